"""The operator's return reasons in replies/<lang>.yaml: loaded per language, checked by `intake config check`."""

from __future__ import annotations

from pathlib import Path

from tests.gateway.test_cli import intake
from tests.support.city import edit, shipped_city


def test_shipped_reasons_exist_in_both_languages_with_the_same_keys() -> None:
    """Indonesian and English offer the same reason keys, each with a label and a text."""
    replies = shipped_city().replies
    ids, ens = replies.of("id").return_reasons, replies.of("en").return_reasons
    assert list(ids) == list(ens) and len(ids) >= 4
    assert all(entry["label"] and entry["text"] for entry in [*ids.values(), *ens.values()])


def test_config_check_reports_a_reason_without_text_with_its_line(tmp_path: Path) -> None:
    """A reason that lost its `text` is a problem at the reason's line, and the check fails."""
    target = tmp_path / "city"
    assert intake("config", "init", str(target)).returncode == 0
    old = (
        "  duplikat:\n    label: Pengaduan ganda\n    text: >-\n"
        "      Pengaduan yang sama sudah kami terima dan sedang ditangani dengan nomor tiket lain.\n"
    )
    line = edit(target / "replies" / "id.yaml", old, "  duplikat:\n    label: Pengaduan ganda\n")
    result = intake("config", "check", env={"CONFIG_DIR": str(target)})
    assert result.returncode == 1
    assert (
        f"{target / 'replies' / 'id.yaml'}:{line}: return reason 'duplikat' needs a non-empty 'text'"
    ) in result.stdout.splitlines()
