"""Issue 14: institutions.yaml, the national institutions a citizen is pointed to, checked by `intake config check`."""

from __future__ import annotations

from pathlib import Path

from config.loader import load_city_config
from tests.config.test_loader import problems_of
from tests.support.city import copy_config, edit


def test_the_shipped_institutions_load_and_match_by_whole_words(tmp_path: Path) -> None:
    """The shipped list holds the usual national bodies; a keyword matches whole words only."""
    city = load_city_config(copy_config(tmp_path))
    institutions = city.institutions
    assert {"ombudsman", "bpjs-kesehatan", "kepolisian", "pln"} <= set(institutions.institutions)
    assert institutions.get("pln") is not None and "pln.co.id" in institutions.get("pln").contact  # type: ignore[union-attr]
    matched = institutions.match("Kartu BPJS saya ditolak di rumah sakit")
    assert matched is not None and matched.name == "BPJS Kesehatan"
    assert institutions.match("Token Listrik tidak masuk") == institutions.get("pln")
    assert institutions.match("Lampu jalan di RT 03 mati") is None
    assert institutions.match("kisah sampah menumpuk") is None  # 'kis' is a word, not a prefix


def test_a_config_without_the_file_has_no_institutions(tmp_path: Path) -> None:
    """The file is optional: an older config directory still loads, with an empty list."""
    copy_config(tmp_path)
    (tmp_path / "institutions.yaml").unlink()
    assert load_city_config(tmp_path).institutions.institutions == {}


def test_an_institution_without_contact_or_keywords_names_its_line(tmp_path: Path) -> None:
    """`intake config check` reports a missing contact and an empty keyword list at their lines."""
    path = copy_config(tmp_path) / "institutions.yaml"
    line = edit(path, '    contact: "Telepon 137, https://ombudsman.go.id"\n', '    contact: ""\n')
    edit(path, "handles: [bpjs, jkn, kis, faskes, iuran bpjs]", "handles: []")
    problems = problems_of(tmp_path)
    assert any(p.startswith(f"{path}:{line}: ombudsman: contact must be text") for p in problems), problems
    assert any("bpjs-kesehatan: handles must be a non-empty list" in p for p in problems), problems
