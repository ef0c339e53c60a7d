"""Issue 14, deadlines by complaint class: complaint_classes.yaml, the working-day deadline on the
city calendar (frozen times, across a weekend and a public holiday), and the class picked at
verification, by the action and through the console page."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from channels.storage import store_bytes
from complaints import complaint_class, sla
from complaints.actions import ActionInvalid, ActionRequest, perform
from complaints.db import make_engine, session_factory, upgrade
from complaints.models import Complaint
from complaints.queries import Viewer
from config.loader import load_city_config
from config.problems import ConfigError
from config.settings import Settings
from gateway.console.strings import STRINGS
from normalizer.tickets import new_ticket
from tests.gateway.test_console import console_site
from tests.gateway.test_console_authz import case, login_as, post
from tests.gateway.test_console_authz import seed as seed_on_site
from tests.support.cases import seed_case
from tests.support.city import copy_config, edit, shipped_city

CONFIG = shipped_city()
CALENDAR = sla.calendar_of(CONFIG.calendar)
# Friday 14 August 2026, 10:00 WIB. Saturday and Sunday are off, Monday 17 August is Independence Day.
FRIDAY_BEFORE_17_AUGUST = datetime(2026, 8, 14, 3, 0, tzinfo=UTC)


def test_the_shipped_classes_and_their_working_days() -> None:
    days = {c.code: c.working_days for c in CONFIG.classes.classes.values()}
    assert days == {"ringan": 2, "normatif": 5, "tidak_berkadar_pengawasan": 14, "berkadar_pengawasan": 60}
    assert CONFIG.classes.default == "normatif" and "4 complaint classes" in CONFIG.summary()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    working_days: 2\n", "    working_days: two\n", "ringan: working_days must be a whole number"),
        ("default: normatif", "default: sedang", "default 'sedang' is not one of the classes"),
        ("    pupr: tidak_berkadar", "    pu: tidak_berkadar", "suggest.opd: 'pu' is not an OPD of opd.yaml"),
        ("    ringan: [pju", "    berat: [pju", "suggest.keywords: 'berat' is not one of the classes"),
    ],
)
def test_a_broken_class_file_is_named_by_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    """`intake config check` names complaint_classes.yaml and the line of the mistake."""
    path = copy_config(tmp_path) / "complaint_classes.yaml"
    line = edit(path, old, new)
    with pytest.raises(ConfigError) as caught:
        load_city_config(tmp_path)
    problems = [str(p) for p in caught.value.problems]
    assert len(problems) == 1 and problems[0].startswith(f"{path}:{line}: ") and message in problems[0], problems


def test_class_deadline_skips_the_weekend_and_independence_day() -> None:
    """Received Friday 14 August: 2 working days are Tuesday 18 and Wednesday 19, due at 16:00 WIB."""
    ringan = CONFIG.classes.classes["ringan"]
    due = complaint_class.class_deadline(FRIDAY_BEFORE_17_AUGUST, ringan, CONFIG)
    assert due == datetime(2026, 8, 19, 9, 0, tzinfo=UTC)
    normatif = CONFIG.classes.classes["normatif"]
    # Tue 18, Wed 19, Thu 20, Fri 21, Mon 24.
    assert complaint_class.class_deadline(FRIDAY_BEFORE_17_AUGUST, normatif, CONFIG) == datetime(
        2026, 8, 24, 9, 0, tzinfo=UTC
    )


def test_class_deadline_skips_cuti_bersama_around_idul_fitri() -> None:
    """Received Wednesday 18 March 2026 (cuti bersama): 19 Nyepi, 20 and 23-24 cuti bersama are off too."""
    received = datetime(2026, 3, 18, 2, 0, tzinfo=UTC)
    due = sla.add_working_days(received, 2, CALENDAR)
    off = [d for d in range(19, 26) if CALENDAR.window(datetime(2026, 3, d).date()) is None]
    assert off == [19, 20, 21, 22, 23, 24]
    assert due == datetime(2026, 3, 26, 9, 0, tzinfo=UTC)  # Wed 25 and Thu 26 March


def test_a_complaint_received_after_hours_still_counts_from_the_next_day() -> None:
    """A complaint of Friday 22:00 WIB is due at the close of its second working day after Friday."""
    late_friday = datetime(2026, 8, 14, 15, 0, tzinfo=UTC)
    assert sla.add_working_days(late_friday, 2, CALENDAR) == datetime(2026, 8, 19, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'classes.sqlite3'}")
    upgrade(engine)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def _verify(db: Session, tmp_path: Path, case_text: str, **fields: str) -> Complaint:
    settings = Settings(_env_file=None, data_dir=tmp_path / "var")  # type: ignore[call-arg]
    complaint = seed_case(db, new_ticket(), "diterima", created_at=FRIDAY_BEFORE_17_AUGUST, text=case_text)
    perform(
        db,
        complaint,
        user_id=7,
        viewer=Viewer(role="operator"),
        request=ActionRequest("verify", complaint.version, fields),
        config=CONFIG,
        settings=settings,
        store_file=functools.partial(store_bytes, settings.attachments_dir),
    )
    db.flush()
    return complaint


def test_the_operators_pick_sets_the_class_and_its_deadline(db: Session, tmp_path: Path) -> None:
    complaint = _verify(db, tmp_path, "Lampu jalan mati di Jalan Pajajaran", complaint_class="berkadar_pengawasan")
    assert complaint.complaint_class == "berkadar_pengawasan"
    due = sla.as_utc(complaint.class_deadline_at)
    assert due == sla.add_working_days(FRIDAY_BEFORE_17_AUGUST, 60, CALENDAR) and due.year == 2026


def test_an_empty_pick_takes_the_proposal_and_an_unknown_class_is_refused(db: Session, tmp_path: Path) -> None:
    """The proposal: a misconduct word first ("pungli"), else the class of the routed OPD, else the default."""
    bribe = _verify(db, tmp_path, "Ada pungli saat mengurus KTP di kelurahan")
    assert bribe.complaint_class == "berkadar_pengawasan"
    road = _verify(db, tmp_path, "Jalan rusak dan berlubang di depan sekolah")
    assert road.complaint_class == "tidak_berkadar_pengawasan"
    vague = _verify(db, tmp_path, "Mohon perhatiannya")
    assert vague.complaint_class == "normatif"
    with pytest.raises(ActionInvalid) as caught:
        _verify(db, tmp_path, "Sampah menumpuk", complaint_class="sedang")
    assert caught.value.errors == {"complaint_class": "class_unknown"}


@pytest.mark.asyncio
async def test_picking_a_class_in_the_console_sets_it_and_the_page_shows_the_deadline(tmp_path: Path) -> None:
    """The verify form proposes a class; the operator picks another; the case page shows class and deadline."""
    t = STRINGS["id"]
    async with console_site(tmp_path) as site:
        token = await login_as(site, "operator")
        ticket = seed_on_site(
            site, "diterima", opd_code=None, created_at=FRIDAY_BEFORE_17_AUGUST, text="Jalan berlubang di Tajur"
        )
        page = await (await site.client.get(f"/ops/kasus/{ticket}")).text()
        form = page[page.index('id="form-verify"') :]
        selected = re.search(r'<option value="([a-z_]+)" selected>', form)
        assert selected and selected.group(1) == "tidak_berkadar_pengawasan"
        assert t["case_class_none"] in page
        resp = await post(site, ticket, token, "verify", complaint_class="ringan")
        assert resp.status == 303, await resp.text()
        verified = case(site, ticket)
        assert verified.complaint_class == "ringan" and verified.status == "diverifikasi"
        assert sla.as_utc(verified.class_deadline_at) == datetime(2026, 8, 19, 9, 0, tzinfo=UTC)  # type: ignore[arg-type]
        page = await (await site.client.get(f"/ops/kasus/{ticket}")).text()
        # Due 19-08-2026 16:00 WIB, long past: shown late beside the step clock.
        assert "Ringan" in page and re.search(r'class="late" id="class-deadline"><strong>19-08-2026 16:00 WIB', page)


@pytest.mark.asyncio
async def test_the_inbox_shows_the_class_deadline_beside_the_step_clock(tmp_path: Path) -> None:
    """A classified case's row names its class and deadline, red once passed; an unclassified row has none."""
    t = STRINGS["id"]
    async with console_site(tmp_path) as site:
        await login_as(site, "operator")
        due = datetime(2026, 8, 19, 9, 0, tzinfo=UTC)
        late = seed_on_site(site, "triase", opd_code=None, complaint_class="ringan", class_deadline_at=due)
        plain = seed_on_site(site, "triase", opd_code=None)
        page = await (await site.client.get("/ops/")).text()
        rows = {ticket: _row_of(page, ticket) for ticket in (late, plain)}
        expected = f'<small class="late class-deadline">{t["col_class_deadline"]} Ringan: 19-08-2026 16:00 WIB</small>'
        assert expected in rows[late]
        assert "class-deadline" not in rows[plain]


def _row_of(page: str, ticket: str) -> str:
    """The inbox table row of ``ticket``."""
    start = page.index(ticket)
    return page[start : page.index("</tr>", start)]
