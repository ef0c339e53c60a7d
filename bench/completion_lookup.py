"""What the completing-reply lookup (issue 13) adds to every message that continues no thread.

``workers.completion.returned_case_of_sender`` runs once for each new message that names no case
by thread or ticket: the sender's newest case returned for identity within the window. For
1,000, 10,000 and 50,000 cases (SQLite; ``--postgres`` adds the test PostgreSQL server, a fresh
database), from senders with one to five cases each and one case in ten returned, it times per
message:

- baseline: ``store.complaint_by_ticket`` (one lookup on a unique index: what a "CEK <ticket>" costs);
- lookup, hit: the sender has a case returned within the window;
- lookup, miss: the sender has cases, none returned (the usual new complaint);
- lookup, stranger: a sender with no case at all.

Run: ``.venv/bin/python bench/completion_lookup.py [--sizes 1000,10000,50000] [--repeat 300] [--postgres]``.
Figures are medians in microseconds of wall-clock time per call; "x base" is lookup / baseline.
Measured (2 shared cores): a miss or a stranger costs about one indexed lookup (1.2-1.4x the
baseline) at every size, because the sender's cases are found on the reply-route index first; a
hit, three lookups (4-5x), in place of opening a new case. The first version, one join, grew with
the table on SQLite (4.8 ms per message at 50,000 cases, 38x).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import Session  # noqa: E402

from complaints import store  # noqa: E402
from complaints.db import make_engine, session_factory, upgrade  # noqa: E402
from complaints.models import Complaint, HistoryEntry, InboxMessage  # noqa: E402
from normalizer.envelope import ComplaintEnvelope, Identity, ReplyRoute, new_id, utcnow  # noqa: E402
from normalizer.tickets import new_ticket  # noqa: E402
from tests.support import services  # noqa: E402
from workers.completion import returned_case_of_sender  # noqa: E402

RETURNED = "dikembalikan_ke_pelapor"


def _seed(session: Session, size: int, rng: random.Random) -> tuple[list[str], list[str], list[str]]:
    """``size`` cases; returns (tickets, senders with a returned case, senders without one)."""
    now = utcnow()
    tickets: list[str] = []
    with_returned: list[str] = []
    without: list[str] = []
    sender_no = 0
    while len(tickets) < size:
        sender_no += 1
        phone = f"+62812{sender_no:07d}"
        returned_any = False
        for _ in range(rng.randint(1, 5)):
            if len(tickets) >= size:
                break
            ticket = new_ticket()
            at = now - timedelta(days=rng.uniform(0, 60))
            returned = rng.random() < 0.1
            returned_any = returned_any or (returned and at > now - timedelta(days=3))
            inbox = InboxMessage(
                id=new_id(), channel="sms", provider="kannel", external_id=ticket, kind="complaint",
                ticket=ticket, envelope={}, state="done", created_at=at, updated_at=at,
            )  # fmt: skip
            case = Complaint(
                id=new_id(), ticket=ticket, inbox_id=inbox.id, channel="sms", provider="kannel",
                reply_channel="sms", reply_address=phone, status=RETURNED if returned else "disposisi",
                step=3 if returned else 4, identity_problems="nik:missing" if returned else None,
                text="Lampu jalan mati", created_at=at, updated_at=at,
            )  # fmt: skip
            session.add(inbox)
            session.flush()  # no ORM relationship orders the two inserts
            session.add(case)
            session.flush()
            session.add(
                HistoryEntry(
                    complaint_id=case.id, at=at, actor="worker", action="received", from_status="", to_status="diterima"
                )
            )
            session.add(
                HistoryEntry(
                    complaint_id=case.id,
                    at=at,
                    actor="worker",
                    action="returned_to_citizen" if returned else "routed",
                    from_status="diterima",
                    to_status=RETURNED if returned else "disposisi",
                )
            )
            tickets.append(ticket)
        (with_returned if returned_any else without).append(phone)
    return tickets, with_returned, without


def _reply(phone: str) -> ComplaintEnvelope:
    return ComplaintEnvelope(
        id=new_id(),
        channel="sms",
        provider="kannel",
        external_id=new_id(),
        received_at=utcnow().isoformat(),
        sender=phone,
        reply_route=ReplyRoute("sms", phone, provider="kannel"),
        identity=Identity(nik="3271014505900002", phone=phone),
        text="",
        identity_sources={"nik": "label:NIK", "phone": "sender"},
    )


def _median_us(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def _measure(
    session: Session, tickets: list[str], hits: list[str], misses: list[str], repeat: int, rng: random.Random
) -> list[float]:
    """Median µs of: the ticket lookup, and the completion lookup for a hit, a miss and a stranger."""
    return [
        _median_us(lambda: store.complaint_by_ticket(session, rng.choice(tickets)), repeat),
        _median_us(lambda: returned_case_of_sender(session, _reply(rng.choice(hits)), 3), repeat),
        _median_us(lambda: returned_case_of_sender(session, _reply(rng.choice(misses)), 3), repeat),
        _median_us(lambda: returned_case_of_sender(session, _reply("+6289999999999"), 3), repeat),
    ]


@contextmanager
def _database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite3"
    else:
        url, name = services.create_pg_database()
        try:
            yield url
        finally:
            services.drop_pg_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--postgres", action="store_true", help="also on the test PostgreSQL server")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.postgres else ["sqlite"]
    header = ("db", "cases", "baseline", "hit", "miss", "stranger", "x base (hit)", "x base (miss)")
    print("{:<11}{:>7}{:>10}{:>9}{:>9}{:>10}{:>14}{:>15}".format(*header))
    for kind in kinds:
        for size in (int(s) for s in args.sizes.split(",")):
            with _database(kind) as url:
                engine = make_engine(url)
                upgrade(engine)
                sf = session_factory(engine)
                rng = random.Random(13)
                with sf.begin() as session:
                    tickets, hits, misses = _seed(session, size, rng)
                with sf() as session:
                    figures = _measure(session, tickets, hits, misses, args.repeat, rng)
                engine.dispose()
            b, h, m, s = figures
            print(f"{kind:<11}{size:>7}{b:>9.0f}µ{h:>8.0f}µ{m:>8.0f}µ{s:>9.0f}µ{h / b:>13.1f}x{m / b:>14.1f}x")


if __name__ == "__main__":
    main()
