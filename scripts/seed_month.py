"""Seed one month of made-up complaints into a database, then print the report's main figures.

    python scripts/seed_month.py --month 2026-11 --cases 600 [--database-url URL] [--seed 1]

The database is migrated first (DATABASE_URL by default, else the embedded SQLite file). Cases
arrive over the month (more on weekdays and in office hours) on every channel and follow the SOP
as the console and workers would write them: received, an identity check that returns some to
the citizen (most come back), routing (some to triage), the OPD's steps with times drawn around
each standard in working hours (so some run late), returns to the operator and re-routing to
another OPD, the operator's review, and the answer on the citizen's channel (most delivered, some
failed). Nothing happens after the moment the script runs. The texts hold no personal data.

Used by the coordinator to quote a report built from a realistic month, and by
``bench/reports_render.py`` (:func:`seed`) for 10,000 cases.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from complaints import sla  # noqa: E402
from complaints.models import CaseNote, Complaint, HistoryEntry, InboxMessage, Reply  # noqa: E402
from complaints.reports import Period  # noqa: E402
from config.model import CityConfig  # noqa: E402
from normalizer.envelope import new_id  # noqa: E402
from normalizer.tickets import new_ticket  # noqa: E402

CHANNELS = {
    "web": 25,
    "sms": 20,
    "whatsapp": 20,
    "email": 10,
    "telegram": 8,
    "app": 8,
    "x": 4,
    "call_centre": 4,
    "newspaper": 1,
}
REPLY_CHANNEL = {"call_centre": "phone", "newspaper": "email", "app": "app"}
OPD_WEIGHTS = {
    "pupr": 26,
    "dlh": 20,
    "dishub": 15,
    "disperumkim": 10,
    "satpol-pp": 8,
    "dinkes": 6,
    "disdik": 5,
    "dinsos": 5,
}
PROBLEMS = ("nik:missing", "nik:invalid", "phone:missing", "address:missing", "name:missing")
TEMPLATES = ("identitas_tidak_lengkap", "bukan_wewenang_pemkot")
OPD_REASONS = (
    "Jalan provinsi, bukan kewenangan kami.",
    "Lokasi di luar wilayah kerja kami.",
    "Termasuk urusan dinas lain.",
)
TOPICS = ("Lampu jalan mati", "Jalan berlubang", "Sampah menumpuk", "Angkot ngetem", "Saluran air tersumbat")
BATCH = 500


@dataclass
class _Case:
    """One case's rows being built (the complaint, its history, notes and replies)."""

    complaint: Complaint
    inbox: InboxMessage
    history: list[HistoryEntry] = field(default_factory=list)
    notes: list[CaseNote] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)


class _Walk:
    """Moves one case along the SOP, writing the rows a real run writes, until ``cutoff``."""

    def __init__(self, case: _Case, config: CityConfig, calendar: sla.Calendar, rng: random.Random, cutoff: datetime):
        self.case, self.config, self.calendar, self.rng, self.cutoff = case, config, calendar, rng, cutoff
        self.at = case.complaint.created_at
        self.alive = True

    def after(self, minutes: float, *, working: bool) -> datetime:
        return (
            sla.add_working_minutes(self.at, minutes, self.calendar)
            if working
            else self.at + timedelta(minutes=minutes)
        )

    def move(
        self, minutes: float, to_status: str, action: str, *, working: bool = True, note: str | None = None
    ) -> bool:
        """Move to ``to_status`` after ``minutes``; False (and the case stays) when that is after the cutoff."""
        when = self.after(minutes, working=working)
        if not self.alive or when > self.cutoff:
            self.alive = False
            return False
        c = self.case.complaint
        self.at = when
        self.case.history.append(
            HistoryEntry(complaint_id=c.id, at=when, actor="seed", action=action, from_status=c.status,
                         to_status=to_status, note=note, opd_code=c.opd_code)
        )  # fmt: skip
        c.status, c.step, c.updated_at = to_status, self.config.sop.step_for_status(to_status), when
        standard = self.config.sop.deadline_minutes(to_status)
        c.step_deadline_at = (
            sla.deadline_after(when, standard, self.config.sop.clock(to_status), self.calendar) if standard else None
        )
        if to_status == "selesai":
            c.closed_at = when
        return True

    def standard(self, status: str, spread: float) -> float:
        """A time around ``status``'s standard: most within it, a tail beyond (lognormal)."""
        minutes = float(self.config.sop.deadline_minutes(status) or 60)
        return minutes * 0.55 * self.rng.lognormvariate(0, spread)

    def reply(self, kind: str, status: str) -> None:
        c = self.case.complaint
        self.case.replies.append(
            Reply(id=new_id(), dedupe_key=f"{c.id}:{kind}", complaint_id=c.id, kind=kind, channel=c.reply_channel,
                  address="seed", text=f"{kind} {c.ticket}", status=status, created_at=self.at, updated_at=self.at)
        )  # fmt: skip


def _arrival(rng: random.Random, period: Period, zone: Any) -> datetime:
    while True:
        day = period.first + timedelta(days=rng.randrange(period.days))
        if day.weekday() >= 5 and rng.random() < 0.55:
            continue  # fewer complaints at the weekend
        hour = min(23, max(0, int(rng.gauss(11 if rng.random() < 0.7 else 19.5, 2.5))))
        local = datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=zone)
        return local.astimezone(UTC)


def _new_case(rng: random.Random, arrived: datetime) -> _Case:
    channel = rng.choices(list(CHANNELS), weights=list(CHANNELS.values()))[0]
    ticket = new_ticket()
    inbox = InboxMessage(id=new_id(), channel=channel, provider="seed", external_id=ticket, kind="complaint",
                         ticket=ticket, envelope={}, state="done", created_at=arrived, updated_at=arrived)  # fmt: skip
    complaint = Complaint(
        id=new_id(), ticket=ticket, inbox_id=inbox.id, channel=channel, provider="seed",
        reply_channel=REPLY_CHANNEL.get(channel, channel), reply_address="seed", language="id", status="",
        step=1, version=1, subject=rng.choice(TOPICS), text="(data contoh, tanpa data pribadi)",
        created_at=arrived, updated_at=arrived,
    )  # fmt: skip
    return _Case(complaint, inbox)


def _walk(case: _Case, config: CityConfig, calendar: sla.Calendar, rng: random.Random, cutoff: datetime) -> None:
    w = _Walk(case, config, calendar, rng, cutoff)
    c = case.complaint
    opds = [code for code in OPD_WEIGHTS if code in config.opds] or list(config.opds)
    weights = [OPD_WEIGHTS.get(code, 1) for code in opds]
    w.move(0, "diterima", "received", working=False)
    w.reply("ack", "delivered")
    if rng.random() < 0.12:  # the identity check finds something missing
        problems = ",".join(sorted(rng.sample(PROBLEMS, rng.choice((1, 1, 2)))))
        if not w.move(
            rng.uniform(0.5, 4), "dikembalikan_ke_pelapor", "returned_to_citizen", working=False, note=problems
        ):
            return
        if rng.random() > 0.65 or not w.move(rng.uniform(60, 4000), "diverifikasi", "recheck", working=False):
            return
    elif not w.move(rng.uniform(0.5, 6), "diverifikasi", "verified", working=False):
        return
    if rng.random() < 0.04:  # an operator finds the identity false on a closer look
        w.move(w.standard("diverifikasi", 0.5), "dikembalikan_ke_pelapor", "return_to_citizen",
               working=False, note=rng.choice(TEMPLATES))  # fmt: skip
        return
    c.opd_code = rng.choices(opds, weights=weights)[0]
    if rng.random() < 0.15:  # no routing rule was sure: the operator picks the OPD
        c.opd_code = None
        if not w.move(0.5, "triase", "to_triage", working=False):
            return
        c.opd_code = rng.choices(opds, weights=weights)[0]
        if not w.move(w.standard("triase", 0.7), "disposisi", "dispose", note=c.opd_code):
            return
    elif not w.move(rng.uniform(0.2, 2), "disposisi", "routed", working=False, note=c.opd_code):
        return
    if rng.random() < 0.08:  # not this OPD's authority: back to the operator, re-routed
        reason = rng.choice(OPD_REASONS)
        if not w.move(w.standard("disposisi", 1.0), "dikembalikan_ke_operator", "return_to_operator"):
            return
        case.notes.append(CaseNote(complaint_id=c.id, at=w.at, author_role="opd", kind="return_reason",
                                   text=reason, internal=True))  # fmt: skip
        previous = c.opd_code
        c.opd_code = rng.choice([code for code in opds if code != previous])
        if not w.move(w.standard("dikembalikan_ke_operator", 0.8), "disposisi", "reroute",
                      note=f"{previous} -> {c.opd_code}"):  # fmt: skip
            return
    steps = (("dianalisa", "accept", "disposisi", 1.0), ("ditindaklanjuti", "follow_up", "dianalisa", 0.7),
             ("dijawab", "answer", "ditindaklanjuti", 0.6), ("diterima_operator", "receive_answer", "dijawab", 0.9),
             ("selesai", "approve", "diterima_operator", 0.9))  # fmt: skip
    for to_status, action, current, spread in steps:
        if not w.move(w.standard(current, spread), to_status, action):
            return
    if c.reply_channel != "phone":
        w.reply("answer", rng.choices(("delivered", "sent", "failed", "unknown"), weights=(88, 5, 5, 2))[0])


def seed(session: Session, config: CityConfig, period: Period, cases: int, *, seed: int = 1,
         cutoff: datetime | None = None) -> int:  # fmt: skip
    """Add ``cases`` made-up cases arriving in ``period``; returns the history rows written."""
    rng = random.Random(seed)
    calendar = sla.calendar_of(config.calendar)
    now = cutoff or datetime.now(UTC)
    written = 0
    batch: list[_Case] = []
    for n in range(cases):
        case = _new_case(rng, _arrival(rng, period, calendar.zone))
        _walk(case, config, calendar, rng, now)
        batch.append(case)
        if len(batch) == BATCH or n == cases - 1:
            session.add_all([b.inbox for b in batch])
            session.flush()
            session.add_all([b.complaint for b in batch])
            session.flush()
            for b in batch:
                session.add_all([*b.history, *b.notes, *b.replies])
                written += len(b.history)
            session.commit()
            batch = []
    return written


def main() -> None:
    """Seed the month, then print the report's main figures (as an operator sees them)."""
    from complaints.db import make_engine, session_factory, upgrade
    from complaints.queries import Viewer
    from complaints.reports import build_report
    from config.loader import load_city_config
    from config.settings import Settings
    from gateway.console.report_strings import REPORT_STRINGS
    from gateway.console.report_tables import build_tables
    from gateway.console.strings import STRINGS

    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--month", default="2026-11", help="YYYY-MM (default 2026-11)")
    args.add_argument("--cases", type=int, default=600)
    args.add_argument("--database-url", help="default: DATABASE_URL, else the embedded SQLite file")
    args.add_argument("--seed", type=int, default=1, help="random seed (the same seed gives the same month)")
    options = args.parse_args()
    year, month = (int(x) for x in options.month.split("-"))
    period = Period.month(year, month)
    settings = Settings(database_url=options.database_url) if options.database_url else Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    config = load_city_config(settings.config_dir, home_region=settings.region_code)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    with session_factory(engine)() as session:
        rows = seed(session, config, period, options.cases, seed=options.seed)
        print(
            f"seeded {options.cases} cases ({rows} history rows) in {period.first} .. {period.last} into {engine.url!r}"
        )
        if engine.dialect.name == "postgresql":
            session.execute(text("ANALYZE"))  # statistics for the planner, as autovacuum would soon have them
            session.commit()
        report = build_report(session, Viewer("operator"), period, config.sop, sla.calendar_of(config.calendar))
    t = {**STRINGS["en"], **REPORT_STRINGS["en"]}
    print(t["report_received"].format(n=report.received))
    for table in build_tables(report, config, "en", t).values():
        if table.name in ("per_day", "returns_operator_reasons"):
            continue
        print(f"\n== {table.title}")
        print(" | ".join(table.headers))
        for row in table.rows:
            print(" | ".join("–" if c is None else str(c) for c in row))
    engine.dispose()


if __name__ == "__main__":
    main()
