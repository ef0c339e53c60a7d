"""complaints.merging on a real migrated database (SQLite and PostgreSQL): merging duplicates into a main
case, the history on both, what a merged case stops doing, the rules that refuse a merge (all or nothing),
and two merges in opposite directions at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints import actions, duplicates, lifecycle, merging
from complaints.db import make_engine, session_factory, upgrade
from complaints.models import Complaint, HistoryEntry, Reply
from complaints.queries import InboxFilters, Viewer, inbox
from config.settings import Settings
from tests.complaints.test_duplicates import CONFIG, LIGHT, LIGHT_AGAIN, OPERATOR, case, migrated_session

USER_ID = 7


@pytest.fixture(params=["sqlite", "postgresql"])
def db(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Session]:
    """A migrated database and a session on it: SQLite, and PostgreSQL (where the merge locks its rows)."""
    url = f"sqlite:///{tmp_path / 'merge.sqlite3'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    yield from migrated_session(url)


def merge(db: Session, main: Complaint, *others: Complaint, viewer: Viewer = OPERATOR, **kw: Any) -> list[Complaint]:
    kw.setdefault("expected_version", main.version)
    return merging.merge(db, main, [o.ticket for o in others], viewer=viewer, user_id=USER_ID, **kw)


def history(db: Session, c: Complaint) -> list[tuple[str, str, str | None]]:
    rows = db.scalars(select(HistoryEntry).where(HistoryEntry.complaint_id == c.id).order_by(HistoryEntry.id))
    return [(h.actor, h.action, h.note) for h in rows]


def test_merged_cases_point_at_the_main_case_with_history_on_both(db: Session) -> None:
    """Two reports merged into a third: each points at it, keeps its ticket, and both sides record who did it."""
    main, one, two = case(db, LIGHT), case(db, LIGHT_AGAIN), case(db, LIGHT_AGAIN, status="dianalisa")
    tickets = (one.ticket, two.ticket)
    merged = merge(db, main, one, two)
    db.flush()
    assert [c.ticket for c in merged] == list(tickets) and one.ticket == tickets[0]
    assert one.merged_into_id == two.merged_into_id == main.id and main.merged_into_id is None
    assert history(db, one) == [(f"staff:{USER_ID}", "merged_into", main.ticket)]
    assert history(db, main) == [(f"staff:{USER_ID}", "merged", t) for t in tickets]
    assert [c.ticket for c in merging.merged_into(db, main)] == list(tickets)
    assert merging.main_of(db, one) is main


def test_a_merged_case_stops_its_clock_leaves_the_inbox_and_takes_no_action(db: Session) -> None:
    """The merged case's deadline is gone, the OPD's inbox no longer lists it, no form is offered on it."""
    dishub = Viewer(role="opd", opd_code="dishub")
    main, other = case(db, LIGHT), case(db, LIGHT_AGAIN)
    listed = {c.ticket for c in inbox(db, dishub, InboxFilters()).cases}
    assert {main.ticket, other.ticket} <= listed
    version = other.version
    merge(db, main, other)
    db.flush()
    assert other.step_deadline_at is None and other.version == version + 1
    listed = {c.ticket for c in inbox(db, dishub, InboxFilters()).cases}
    assert main.ticket in listed and other.ticket not in listed
    assert actions.available(other, dishub) == () and actions.available(other, OPERATOR) == ()
    assert actions.available(main, dishub) != ()
    # Nor is it proposed again as a duplicate of the main case.
    duplicates.forget_all()
    assert duplicates.proposals(db, main, OPERATOR, config=CONFIG, window_days=14, min_similarity=0.5) == ()


@pytest.mark.parametrize(
    ("make_other", "reason"),
    [
        (lambda db, main: main, "merge_self"),
        (lambda db, main: case(db, LIGHT_AGAIN, opd="dlh"), "merge_other_opd"),
        (lambda db, main: case(db, LIGHT_AGAIN, status="selesai"), "merge_closed"),
        (lambda db, main: case(db, LIGHT_AGAIN, status="triase", opd=None), "merge_other_opd"),
    ],
)
def test_rules_refuse_self_other_opd_and_closed_cases(db: Session, make_other: Any, reason: str) -> None:
    """Not into itself, not across OPDs, not a closed or unrouted case: refused, nothing changes."""
    main = case(db, LIGHT)
    fine = case(db, LIGHT_AGAIN)
    other = make_other(db, main)
    with pytest.raises(merging.MergeRefused) as refused:
        merge(db, main, fine, other)
    assert refused.value.reason == reason and refused.value.ticket == other.ticket
    assert fine.merged_into_id is None and history(db, main) == []


def test_a_case_cannot_be_merged_twice_nor_into_a_merged_or_closed_case(db: Session) -> None:
    """Already merged: refused; a merged case cannot become a main case; neither can a closed one."""
    main, other, third = case(db, LIGHT), case(db, LIGHT_AGAIN), case(db, LIGHT_AGAIN)
    merge(db, main, other)
    with pytest.raises(merging.MergeRefused) as refused:
        merge(db, third, other)
    assert refused.value.reason == "merge_already"
    with pytest.raises(merging.MergeRefused) as refused:
        merge(db, other, third)
    assert (refused.value.reason, refused.value.ticket) == ("merge_already", other.ticket)
    with pytest.raises(merging.MergeRefused) as refused:
        merge(db, third, main)
    assert (refused.value.reason, refused.value.ticket) == ("merge_has_merged", main.ticket)
    closed = case(db, LIGHT, status="selesai")
    with pytest.raises(merging.MergeRefused) as refused:
        merge(db, closed, third)
    assert (refused.value.reason, refused.value.ticket) == ("merge_closed", closed.ticket)


def test_only_operators_merge_and_only_from_the_page_they_saw(db: Session) -> None:
    """OPD staff are forbidden; a stale page (an older main case version) is CaseChanged; none chosen is refused."""
    main, other = case(db, LIGHT), case(db, LIGHT_AGAIN)
    with pytest.raises(merging.MergeForbidden):
        merge(db, main, other, viewer=Viewer(role="opd", opd_code="dishub"))
    with pytest.raises(lifecycle.CaseChanged):
        merge(db, main, other, expected_version=main.version - 1)
    with pytest.raises(merging.MergeRefused) as refused:
        merge(db, main)
    assert refused.value.reason == "merge_none" and other.merged_into_id is None
    assert merge(db, main, other, viewer=Viewer(role="admin")) == [other]


def test_approving_the_main_case_answers_every_merged_reporter_on_their_own_channel(db: Session) -> None:
    """One approval: the main reporter's SMS plus an SMS, a Telegram message and an e-mail to the merged
    reporters, each a reply of their own case with their own ticket; a phone reporter is left to a call."""
    settings = Settings(_env_file=None, smtp_host="127.0.0.1", mail_from="pengaduan@example.org")  # type: ignore[call-arg]
    main = case(db, LIGHT, status="dijawab", reply_provider="kannel", answer_text="draft")
    sms = case(db, LIGHT_AGAIN, reply_provider="kannel", reply_address="+6281311112222")
    chat = case(db, LIGHT_AGAIN, reply_channel="telegram", reply_provider="telegram", reply_address="555001")
    mail = case(db, LIGHT_AGAIN, channel="email", reply_channel="email", reply_provider="email", reply_address="b@x.id")
    phone = case(db, LIGHT_AGAIN, channel="phone", reply_channel="phone", reply_address="-")
    merge(db, main, sms, chat, mail, phone)
    outcome = actions.perform(
        db,
        main,
        user_id=USER_ID,
        viewer=OPERATOR,
        request=actions.ActionRequest("approve", main.version, {"answer": "Lampu sudah diganti.", "publish": "1"}),
        config=CONFIG,
        settings=settings,
        store_file=lambda data: "",
    )
    db.flush()
    replies = {r.complaint_id: r for r in db.scalars(select(Reply).where(Reply.kind == "answer"))}
    assert sorted(outcome.enqueue["send_reply"]) == sorted(r.id for r in replies.values())
    assert set(replies) == {main.id, sms.id, chat.id, mail.id}
    for c, channel, address in (
        (main, "sms", main.reply_address),
        (sms, "sms", "+6281311112222"),
        (chat, "telegram", "555001"),
        (mail, "email", "b@x.id"),
    ):
        reply = replies[c.id]
        assert (reply.channel, reply.address) == (channel, address) and reply.inbox_id == c.inbox_id
        assert c.ticket in reply.text and "Lampu sudah diganti." in reply.text
        assert all(o.ticket not in reply.text for o in (main, sms, chat, mail) if o is not c)
    for c in (sms, chat, mail, phone):
        assert c.answer_text == "Lampu sudah diganti." and c.answer_public
        assert (f"staff:{USER_ID}", "answer_from_main", main.ticket) in history(db, c)
    assert phone.attention == "delivery_failed" and sms.attention is None


def test_a_main_case_is_proposed_marked_as_one_so_the_merge_goes_the_other_way(db: Session) -> None:
    """A third report sees the main case (with its merged count), never the merged case itself."""
    main, other, third = case(db, LIGHT), case(db, LIGHT_AGAIN), case(db, LIGHT_AGAIN)
    merge(db, main, other)
    db.flush()
    duplicates.forget_all()
    proposed = duplicates.proposals(db, third, OPERATOR, config=CONFIG, window_days=14, min_similarity=0.5)
    assert [(p.ticket, p.merged_count) for p in proposed] == [(main.ticket, 1)]


def test_two_merges_in_opposite_directions_at_once_leave_one_main_case(tmp_path: Path, pg_url: str) -> None:
    """PostgreSQL: A<-B and B<-A started together: the second waits for the first's locks, then is refused."""
    duplicates.forget_all()
    engine = make_engine(pg_url)
    upgrade(engine)
    sf = session_factory(engine)
    try:
        with sf.begin() as db:
            a, b = case(db, LIGHT).ticket, case(db, LIGHT_AGAIN).ticket

        def merge_by_ticket(db: Session, main_ticket: str, other: str) -> None:
            main = db.scalar(select(Complaint).where(Complaint.ticket == main_ticket))
            assert main is not None
            merging.merge(db, main, [other], viewer=OPERATOR, user_id=USER_ID, expected_version=main.version)

        outcome: list[BaseException | None] = []
        with sf.begin() as first:
            merge_by_ticket(first, a, b)  # holds both rows until its commit

            def second() -> None:
                try:
                    with sf.begin() as db:
                        merge_by_ticket(db, b, a)
                    outcome.append(None)
                except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                    outcome.append(exc)

            worker = threading.Thread(target=second)
            worker.start()
            time.sleep(0.5)
            assert outcome == []  # still waiting for the first merge's locks
        worker.join(10)
        [error] = outcome
        # It read B at version 1 before the first merge bumped it: its page is out of date (the console's 409).
        assert isinstance(error, lifecycle.CaseChanged) and error.ticket == b
        with sf() as db:
            rows = {t: m for t, m in db.execute(select(Complaint.ticket, Complaint.merged_into_id))}
            main_id = db.scalar(select(Complaint.id).where(Complaint.ticket == a))
        assert rows == {a: None, b: main_id}
    finally:
        engine.dispose()
