"""`intake config init` and `intake config check` as a city's admin uses them."""

from __future__ import annotations

from pathlib import Path

from tests.gateway.test_cli import intake
from tests.support.city import edit, shipped_city


def test_config_check_of_the_shipped_config_prints_a_summary() -> None:
    """Without CONFIG_DIR the shipped files are checked and summarised in one line."""
    result = intake("config", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"config OK: {shipped_city().summary()}\n"
    assert result.stdout.startswith("config OK: 24 OPDs, 33 routing rules, 9 SOP steps, languages id,en, ")


def test_config_init_copies_a_directory_that_checks(tmp_path: Path) -> None:
    """`config init DIR` makes a complete copy; `config check DIR` accepts it; a second init refuses."""
    target = tmp_path / "city"
    result = intake("config", "init", str(target))
    assert result.returncode == 0, result.stderr
    assert f"CONFIG_DIR={target}" in result.stdout
    assert {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()} == {
        "opd.yaml",
        "routing.yaml",
        "sop.yaml",
        "calendar.yaml",
        "complaint_classes.yaml",
        "institutions.yaml",
        "replies/id.yaml",
        "replies/en.yaml",
        "data/wilayah.csv",
        "data/README.md",
    }
    assert intake("config", "check", str(target)).returncode == 0
    again = intake("config", "init", str(target))
    assert again.returncode == 1 and "exists; nothing copied" in again.stderr


def test_config_check_lists_every_problem_with_file_and_line(tmp_path: Path) -> None:
    """A broken directory: each problem on its own `path:line: message` line, exit status 1."""
    target = tmp_path / "city"
    assert intake("config", "init", str(target)).returncode == 0
    opd_line = edit(target / "opd.yaml", "- code: dishub\n", "- code: dlh\n")
    sop_line = edit(target / "sop.yaml", "minutes: 240", "minutes: -1")
    result = intake("config", "check", env={"CONFIG_DIR": str(target)})
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"{target / 'opd.yaml'}:{opd_line}: OPD code 'dlh' is used twice" in lines
    assert (
        f"{target / 'sop.yaml'}:{sop_line}: status 'dianalisa': minutes must be a positive whole number or null"
    ) in lines
    assert f"{len(lines)} problem(s)" in result.stderr


def test_serve_refuses_to_start_on_an_invalid_config(tmp_path: Path) -> None:
    """`intake serve` with a broken CONFIG_DIR exits 2 with the problem's file and line."""
    target = tmp_path / "city"
    assert intake("config", "init", str(target)).returncode == 0
    line = edit(target / "routing.yaml", "- opd: dlh\n", "- opd: dlhh\n")
    result = intake("serve", "--port", "0", env={"CONFIG_DIR": str(target), "DATA_DIR": str(tmp_path / "var")})
    assert result.returncode == 2
    assert f"{target / 'routing.yaml'}:{line}: unknown OPD 'dlhh'" in result.stderr


def test_config_check_reports_an_opd_contact_that_is_not_an_email_address(tmp_path: Path) -> None:
    """part-manual: the OPD notice address is checked like every other value, with file and line."""
    target = tmp_path / "city"
    assert intake("config", "init", str(target)).returncode == 0
    line = edit(target / "opd.yaml", "short_name: DLH\n", "short_name: DLH\n    contact: dlh@\n") + 1
    result = intake("config", "check", env={"CONFIG_DIR": str(target)})
    assert result.returncode == 1
    assert result.stdout.startswith(f"{target / 'opd.yaml'}:{line}: contact 'dlh@' is not an e-mail address")
