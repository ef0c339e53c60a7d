"""part-escalation: the optional `escalation:` address of an OPD in opd.yaml, checked like `contact:`."""

from __future__ import annotations

from pathlib import Path

from config.loader import load_city_config
from tests.config.test_loader import problems_of
from tests.support.city import copy_config, edit


def test_the_escalation_address_is_loaded_and_falls_back_to_the_contact(tmp_path: Path) -> None:
    """`escalation:` is where escalations go; an OPD with only `contact:` is escalated to its contact."""
    path = copy_config(tmp_path) / "opd.yaml"
    edit(
        path,
        "short_name: DLH\n",
        "short_name: DLH\n    contact: pengaduan.dlh@kotabogor.go.id\n    escalation: Kadis.DLH@KotaBogor.go.id\n",
    )
    edit(path, "short_name: Dishub\n", "short_name: Dishub\n    contact: dishub@kotabogor.go.id\n")
    city = load_city_config(tmp_path)
    assert city.opds["dlh"].escalation_address == "Kadis.DLH@kotabogor.go.id"
    assert city.opds["dishub"].escalation is None
    assert city.opds["dishub"].escalation_address == "dishub@kotabogor.go.id"
    assert city.opds["pupr"].escalation_address is None


def test_an_invalid_escalation_address_names_its_line(tmp_path: Path) -> None:
    """`intake config check` reports an escalation address that is not an e-mail address, at its line."""
    path = copy_config(tmp_path) / "opd.yaml"
    line = edit(path, "short_name: DLH\n", "short_name: DLH\n    escalation: kadis-dlh\n") + 1
    (problem,) = problems_of(tmp_path)
    assert problem.startswith(f"{path}:{line}: escalation 'kadis-dlh' is not an e-mail address")
