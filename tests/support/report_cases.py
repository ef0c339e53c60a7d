"""A small hand-made month of cases (November 2026) whose report figures were worked out by hand.

Times are city time (WIB, UTC+7). The calendar is the shipped one: Monday to Friday 08:00-16:00,
and November 2026 has no public holiday or cuti bersama. Tue 10, Wed 11, Thu 12, Mon 16, Tue 17
and Wed 18 November are working days.

=====  =========  ==================================================================================
case   channel    history (step lengths: wall minutes for diterima/diverifikasi, else working minutes)
=====  =========  ==================================================================================
A      web        Tue 10 09:00 received; 09:05 verified (5); 09:06 routed to DLH (1); 09:26 accept (20);
                  13:26 follow-up (240); Thu 12 10:00 answer (154 + 480 + 120 = 754); 10:20 answer
                  received (20); 10:40 approved (20). Answer by e-mail, delivered.
B      sms        Tue 10 15:00 received; 15:02 verified (2); 15:03 routed to PUPR (1); Wed 11 09:00 PUPR
                  returns it to the operator (57 + 60 = 117, late); 10:00 re-routed to Dishub (60);
                  10:10 Dishub accepts (10). Still in analysis.
C      email      Mon 16 08:00 received; 08:10 returned to the citizen, NIK missing and phone invalid
                  (10 of 30: 20 left); Tue 17 09:00 citizen completes it, recheck; 09:25 routed to DLH
                  (25 with 20 allowed: late). An answer by SMS failed.
D      telegram   Wed 18 10:00 received; 10:01 verified (1); 10:30 an operator returns it to the citizen,
                  template "identitas_tidak_lengkap" (29).
E      web        Fri 30 Oct 15:00 received (October); Mon 2 Nov 09:00 verified (3960 wall minutes, late).
F      web        Mon 30 Nov 23:30 received (still November in Bogor).
G      sms        Tue 1 Dec 00:10 received (December in Bogor, 30 Nov 17:10 UTC).
=====  =========  ==================================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from complaints.db import make_engine, session_factory, upgrade
from complaints.merging import MERGED, MERGED_INTO
from complaints.models import CaseNote, Complaint, HistoryEntry, Reply
from normalizer.envelope import new_id
from tests.support.cases import seed_case

WIB = timezone(timedelta(hours=7))
BACK = "dikembalikan_ke_pelapor"
RETURN_REASON = "Jalan provinsi, bukan kewenangan Dinas PUPR"


def wib(text: str) -> datetime:
    """``"2026-11-10 09:00"`` in WIB, as an aware UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=WIB).astimezone(UTC)


def walk(session: Session, case: Complaint, moves: list[tuple[str, str, str, str, str | None, str | None]]) -> None:
    """Write history rows: (WIB time, action, from, to, OPD holding the case, note)."""
    for at, action, from_status, to_status, opd, note in moves:
        session.add(
            HistoryEntry(
                complaint_id=case.id,
                at=wib(at),
                actor="test",
                action=action,
                from_status=from_status,
                to_status=to_status,
                opd_code=opd,
                note=note,
            )
        )


def answer(session: Session, case: Complaint, channel: str, status: str, at: str, kind: str = "answer") -> None:
    """An outbound reply of ``kind`` for ``case`` created at ``at`` (WIB)."""
    created = wib(at)
    session.add(
        Reply(
            id=new_id(),
            dedupe_key=new_id(),
            complaint_id=case.id,
            kind=kind,
            channel=channel,
            address="+6281200000000",
            text="Jawaban",
            status=status,
            created_at=created,
            updated_at=created,
        )
    )


def _case(session: Session, ticket: str, status: str, channel: str, created: str, **fields: Any) -> Complaint:
    return seed_case(session, ticket, status, channel=channel, created_at=wib(created), **fields)


def seed_november(session: Session) -> dict[str, Complaint]:
    """Seed cases A-G (see the module docstring) and return them by letter."""
    a = _case(session, "BGR-AAAAAAA", "selesai", "web", "2026-11-10 09:00", opd_code="dlh")
    walk(
        session,
        a,
        [
            ("2026-11-10 09:00", "received", "", "diterima", None, None),
            ("2026-11-10 09:05", "verified", "diterima", "diverifikasi", None, None),
            ("2026-11-10 09:06", "routed", "diverifikasi", "disposisi", "dlh", "dlh"),
            ("2026-11-10 09:10", "internal_note", "disposisi", "disposisi", "dlh", None),  # a note, not a move
            ("2026-11-10 09:26", "accept", "disposisi", "dianalisa", "dlh", None),
            ("2026-11-10 13:26", "follow_up", "dianalisa", "ditindaklanjuti", "dlh", None),
            ("2026-11-12 10:00", "answer", "ditindaklanjuti", "dijawab", "dlh", None),
            ("2026-11-12 10:20", "receive_answer", "dijawab", "diterima_operator", "dlh", None),
            ("2026-11-12 10:40", "approve", "diterima_operator", "selesai", "dlh", None),
        ],
    )
    answer(session, a, "email", "delivered", "2026-11-12 10:40")
    b = _case(session, "BGR-BBBBBBB", "dianalisa", "sms", "2026-11-10 15:00", opd_code="dishub")
    walk(
        session,
        b,
        [
            ("2026-11-10 15:00", "received", "", "diterima", None, None),
            ("2026-11-10 15:02", "verified", "diterima", "diverifikasi", None, None),
            ("2026-11-10 15:03", "routed", "diverifikasi", "disposisi", "pupr", "pupr"),
            ("2026-11-11 09:00", "return_to_operator", "disposisi", "dikembalikan_ke_operator", "pupr", None),
            ("2026-11-11 10:00", "reroute", "dikembalikan_ke_operator", "disposisi", "dishub", "pupr -> dishub"),
            ("2026-11-11 10:10", "accept", "disposisi", "dianalisa", "dishub", None),
        ],
    )
    session.add(
        CaseNote(
            complaint_id=b.id,
            at=wib("2026-11-11 09:00"),
            author_id=None,
            author_role="opd",
            kind="return_reason",
            text=RETURN_REASON,
            internal=True,
        )
    )
    c = _case(session, "BGR-CCCCCCC", "disposisi", "email", "2026-11-16 08:00", opd_code="dlh")
    walk(
        session,
        c,
        [
            ("2026-11-16 08:00", "received", "", "diterima", None, None),
            ("2026-11-16 08:10", "returned_to_citizen", "diterima", BACK, None, "nik:missing,phone:invalid"),
            ("2026-11-17 09:00", "recheck", BACK, "diverifikasi", None, None),
            ("2026-11-17 09:25", "routed", "diverifikasi", "disposisi", "dlh", "dlh"),
        ],
    )
    answer(session, c, "sms", "failed", "2026-11-20 10:00")
    d = _case(session, "BGR-DDDDDDD", "dikembalikan_ke_pelapor", "telegram", "2026-11-18 10:00")
    walk(
        session,
        d,
        [
            ("2026-11-18 10:00", "received", "", "diterima", None, None),
            ("2026-11-18 10:01", "verified", "diterima", "diverifikasi", None, None),
            ("2026-11-18 10:30", "return_to_citizen", "diverifikasi", BACK, None, "identitas_tidak_lengkap"),
        ],
    )
    answer(session, d, "telegram", "delivered", "2026-11-18 10:30", kind="returned_by_operator")
    e = _case(session, "BGR-EEEEEEE", "diverifikasi", "web", "2026-10-30 15:00")
    walk(
        session,
        e,
        [
            ("2026-10-30 15:00", "received", "", "diterima", None, None),
            ("2026-11-02 09:00", "verified", "diterima", "diverifikasi", None, None),
        ],
    )
    f = _case(session, "BGR-FFFFFFF", "diterima", "web", "2026-11-30 23:30")
    walk(session, f, [("2026-11-30 23:30", "received", "", "diterima", None, None)])
    g = _case(session, "BGR-GGGGGGG", "diterima", "sms", "2026-12-01 00:10")
    walk(session, g, [("2026-12-01 00:10", "received", "", "diterima", None, None)])
    answer(session, a, "email", "delivered", "2026-12-01 08:00")  # December: not in the November report
    session.flush()
    return {"A": a, "B": b, "C": c, "D": d, "E": e, "F": f, "G": g}


def seed_merged(session: Session) -> dict[str, Complaint]:
    """Seed three reports of one broken street light with DLH, L and M merged into K; return them by letter.

    =====  =========  ==================================================================================
    case   channel    history (working minutes)
    =====  =========  ==================================================================================
    K      web        the main case. Mon 2 Nov 08:05 routed to DLH; 08:25 accept (20); 10:25 follow-up
                      (120); Tue 3 Nov 08:00 answer (335: 10:25 to 16:00); 08:10 received; 08:20 approved.
    L      sms        Mon 2 Nov 09:01 routed to DLH; 09:30 merged into K, left in ``disposisi`` (its step
                      never ends).
    M      telegram   Mon 2 Nov 09:11 routed to DLH; 10:11 accept (60: late); 10:31 follow-up (20); 10:51
                      DLH answers (20); 11:00 merged into K, left in ``dijawab``.
    =====  =========  ==================================================================================
    """
    k = _case(session, "BGR-KKKKKKK", "selesai", "web", "2026-11-02 08:00", opd_code="dlh")
    walk(
        session,
        k,
        [
            ("2026-11-02 08:05", "routed", "diverifikasi", "disposisi", "dlh", "dlh"),
            ("2026-11-02 08:25", "accept", "disposisi", "dianalisa", "dlh", None),
            ("2026-11-02 09:30", MERGED, "dianalisa", "dianalisa", "dlh", "BGR-LLLLLLL"),
            ("2026-11-02 10:25", "follow_up", "dianalisa", "ditindaklanjuti", "dlh", None),
            ("2026-11-02 11:00", MERGED, "ditindaklanjuti", "ditindaklanjuti", "dlh", "BGR-MMMMMMM"),
            ("2026-11-03 08:00", "answer", "ditindaklanjuti", "dijawab", "dlh", None),
            ("2026-11-03 08:10", "receive_answer", "dijawab", "diterima_operator", "dlh", None),
            ("2026-11-03 08:20", "approve", "diterima_operator", "selesai", "dlh", None),
        ],
    )
    session.flush()
    cases = {"K": k}
    for letter, channel, created, status in (
        ("L", "sms", "2026-11-02 09:00", "disposisi"),
        ("M", "telegram", "2026-11-02 09:10", "dijawab"),
    ):
        case = _case(session, f"BGR-{letter * 7}", status, channel, created, opd_code="dlh", merged_into_id=k.id)
        cases[letter] = case
    walk(
        session,
        cases["L"],
        [
            ("2026-11-02 09:01", "routed", "diverifikasi", "disposisi", "dlh", "dlh"),
            ("2026-11-02 09:30", MERGED_INTO, "disposisi", "disposisi", "dlh", k.ticket),
        ],
    )
    walk(
        session,
        cases["M"],
        [
            ("2026-11-02 09:11", "routed", "diverifikasi", "disposisi", "dlh", "dlh"),
            ("2026-11-02 10:11", "accept", "disposisi", "dianalisa", "dlh", None),
            ("2026-11-02 10:31", "follow_up", "dianalisa", "ditindaklanjuti", "dlh", None),
            ("2026-11-02 10:51", "answer", "ditindaklanjuti", "dijawab", "dlh", None),
            ("2026-11-02 11:00", MERGED_INTO, "dijawab", "dijawab", "dlh", k.ticket),
        ],
    )
    session.flush()
    return cases


def seeded_database(
    request: pytest.FixtureRequest, tmp_path: Path, *seeds: Callable[[Session], object]
) -> Iterator[Session]:
    """A session on a migrated SQLite (``request.param == "sqlite"``) or PostgreSQL database holding ``seeds``."""
    url = f"sqlite:///{tmp_path / 'report.sqlite3'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    upgrade(engine)
    with session_factory(engine)() as session:
        for seed in seeds:
            seed(session)
        session.commit()
        yield session
    engine.dispose()
