"""A city's own CONFIG_DIR, outside the package, is what the running system uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from complaints.models import Complaint, Reply
from config.problems import ConfigError
from config.settings import Settings
from tests.support.city import copy_config, edit
from tests.support.system import running_system
from workers.setup import build_runtime

NIK = "3271014501900002"  # Kota Bogor, Bogor Selatan; woman born 5 Jan 1990
FORM = {
    "lang": "id",
    "nik": NIK,
    "nama": "Siti Aminah",
    "alamat": "Jl. Pajajaran No. 5, RT 02/RW 03, Baranangsiang",
    "telp": "0812-3456-7890",
    "email": "",
    "isi": "Jalan berlubang besar di Jl. Pajajaran dekat Kebun Raya, bahaya untuk motor",
}


def city_settings(tmp_path: Path, config_dir: Path, **overrides: object) -> Settings:
    """Embedded settings (SQLite, in-process queue) reading the city config from ``config_dir``."""
    values: dict[str, object] = {
        "data_dir": tmp_path / "var",
        "host": "127.0.0.1",
        "port": 0,
        "redis_url": None,
        "database_url": None,
        "worker_threads": 2,
        "config_dir": config_dir,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]


def test_renamed_opd_in_the_city_config_is_what_citizens_see(tmp_path: Path) -> None:
    """With PUPR renamed, and the disposisi label changed, in a CONFIG_DIR copy, the ack and the
    tracking page name the city's own OPD and label."""
    config_dir = copy_config(tmp_path / "city")
    edit(config_dir / "opd.yaml", "name: Dinas Pekerjaan Umum dan Penataan Ruang", "name: Dinas Bina Marga Kota")
    edit(config_dir / "opd.yaml", "short_name: Dinas PUPR", "short_name: Bina Marga")
    edit(config_dir / "sop.yaml", "label: {id: Disposisi,", "label: {id: Diteruskan ke OPD,")
    with running_system(city_settings(tmp_path, config_dir)) as system:
        browser = requests.Session()  # keeps the form's CSRF cookie, as a browser does
        form = browser.get(f"{system.url}/lapor", timeout=10)
        submission = re.search(r'name="submission_id" value="([^"]+)"', form.text)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert submission is not None and token is not None
        resp = browser.post(
            f"{system.url}/lapor",
            data={**FORM, "submission_id": submission.group(1), "csrf_token": token.group(1)},
            files={"foto": ("", b"", "application/octet-stream")},
            allow_redirects=False,
            timeout=10,
        )
        assert resp.status_code == 303, resp.text
        ticket = resp.headers["Location"].rsplit("/", 1)[1]

        def ack(session):  # type: ignore[no-untyped-def]
            case = session.scalar(select(Complaint).where(Complaint.ticket == ticket))
            if case is None or case.status != "disposisi":
                return None
            return session.scalar(select(Reply.text).where(Reply.complaint_id == case.id, Reply.kind == "ack"))

        assert "diteruskan ke Bina Marga" in system.wait_for(ack)
        page = requests.get(f"{system.url}/lacak/{ticket}", timeout=10).text
        assert "Dinas Bina Marga Kota" in page
        assert "Diteruskan ke OPD" in page
        assert "Pekerjaan Umum" not in page


def test_invalid_city_config_stops_start_up_with_file_and_line(tmp_path: Path) -> None:
    """A broken CONFIG_DIR stops the runtime before anything starts, naming file and line."""
    config_dir = copy_config(tmp_path / "city")
    line = edit(config_dir / "routing.yaml", "- opd: dlh\n", "- opd: dlhh\n")
    with pytest.raises(ConfigError) as caught:
        build_runtime(city_settings(tmp_path, config_dir))
    assert f"{config_dir / 'routing.yaml'}:{line}: unknown OPD 'dlhh'" in str(caught.value)
    assert not (tmp_path / "var" / "intake.sqlite3").exists()
