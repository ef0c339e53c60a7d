"""How long the case page's duplicate proposals take, against the rest of the case page's read.

For 200, 1,000 and 5,000 open cases of one OPD received in the last 14 days, on SQLite and on
PostgreSQL (the test server, a fresh database), it times per case page:

- baseline: ``case_file`` (the case, its notes, replies and history: what the page read before);
- proposals, cold: :func:`complaints.duplicates.proposals` with no fingerprint remembered (the first
  page load after a start: every candidate stemmed);
- proposals, warm: the same with the fingerprints remembered (every later page load).

Run: ``.venv/bin/python bench/duplicate_proposals.py [--sizes 200,1000,5000] [--repeat 15]``.
Figures are medians in milliseconds of this process's CPU time (``time.process_time``: steadier than
the wall clock on a shared machine; the database server's own time on PostgreSQL is not in it), plus
the warm proposals' wall-clock median; "x base" is proposals / baseline.
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

from complaints import duplicates  # noqa: E402
from complaints.casefile import case_file  # noqa: E402
from complaints.db import make_engine, session_factory, upgrade  # noqa: E402
from complaints.models import Complaint, InboxMessage  # noqa: E402
from complaints.queries import Viewer  # noqa: E402
from normalizer.envelope import new_id, utcnow  # noqa: E402
from tests.support import services  # noqa: E402
from tests.support.city import shipped_city  # noqa: E402

CONFIG = shipped_city()
OPERATOR = Viewer(role="operator")
# Words of real complaint topics, mixed so that most cases are unlike the one on the page.
TOPICS = (
    "lampu penerangan jalan mati gelap malam tiang listrik",
    "jalan berlubang rusak aspal mengelupas kendaraan jatuh",
    "sampah menumpuk tidak diangkut bau lalat pinggir jalan",
    "saluran air got mampet banjir hujan meluap rumah warga",
    "angkot ngetem macet lampu lalu lintas rusak persimpangan",
    "pohon tumbang menimpa kabel ranting patah bahaya",
    "pedagang kaki lima trotoar pejalan kaki terhalang",
    "air pdam mati keruh tidak mengalir seminggu",
)
PLACES = ("Jl. Pajajaran", "Jl. Suryakencana", "Jl. Padjadjaran", "Jl. Merdeka", "Jl. Sudirman", "Jl. Dewi Sartika")


def _text(rng: random.Random) -> str:
    words = rng.choice(TOPICS).split()
    rng.shuffle(words)
    return f"{' '.join(words[: rng.randint(4, len(words))])} di {rng.choice(PLACES)} sudah {rng.randint(2, 9)} hari"


def _seed(db: Session, n: int, rng: random.Random) -> Complaint:
    """``n`` open Dishub cases over the last 14 days; returns the newest (the page's case)."""
    now = utcnow()
    rows: list[object] = []
    cases: list[Complaint] = []
    for i in range(n):
        created = now - timedelta(minutes=rng.randint(0, 14 * 24 * 60 - 1)) if i else now
        inbox = InboxMessage(
            id=new_id(), channel="sms", provider="kannel", external_id=f"b{i}", kind="complaint", ticket=f"B{i:07d}",
            envelope={}, state="done", created_at=created, updated_at=created,
        )  # fmt: skip
        case = Complaint(
            id=new_id(), ticket=f"B{i:07d}", inbox_id=inbox.id, channel="sms", provider="kannel", reply_channel="sms",
            reply_address="+6281200000000", status=rng.choice(duplicates.open_statuses()), step=4,
            opd_code="dishub", text=_text(rng) if i else TOPICS[0] + " di Jl. Pajajaran", created_at=created,
            updated_at=created,
        )  # fmt: skip
        rows.append(inbox)
        cases.append(case)
    db.add_all(rows)
    db.flush()
    db.add_all(cases)
    db.commit()
    return cases[0]


def _median_ms(fn: Callable[[], object], repeat: int, before: Callable[[], None] = lambda: None) -> tuple[float, float]:
    """Medians of (CPU ms, wall ms) over ``repeat`` calls of ``fn``, ``before`` run untimed before each."""
    cpu, wall = [], []
    for _ in range(repeat):
        before()
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        fn()
        cpu.append((time.process_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start_wall) * 1000)
    return statistics.median(cpu), statistics.median(wall)


@contextmanager
def _database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite3"
        return
    url, name = services.create_pg_database()
    try:
        yield url
    finally:
        services.drop_pg_database(name)


def run(backend: str, n: int, repeat: int) -> tuple[float, float, float, float, int]:
    """(baseline, proposals cold, proposals warm CPU ms; warm wall ms; proposals found) for ``n`` open cases."""
    with _database(backend) as url:
        engine = make_engine(url)
        upgrade(engine)
        try:
            with session_factory(engine)() as db:
                case = _seed(db, n, random.Random(n))
                case_id = case.id

                def page() -> object:
                    db.expire_all()
                    found = db.get(Complaint, case_id)
                    assert found is not None
                    return case_file(db, found, reveal=False, user_id=1, config=CONFIG)

                def propose() -> tuple[duplicates.Proposal, ...]:
                    db.expire_all()
                    found = db.get(Complaint, case_id)
                    assert found is not None
                    return duplicates.proposals(db, found, OPERATOR, config=CONFIG, window_days=14, min_similarity=0.5)

                base, _ = _median_ms(page, repeat)
                cold, _ = _median_ms(propose, max(3, repeat // 3), before=duplicates.forget_all)
                warm, warm_wall = _median_ms(propose, repeat)
                return base, cold, warm, warm_wall, len(propose())
        finally:
            engine.dispose()


def main() -> None:
    """Print one line per backend and size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,1000,5000")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"candidates read per page at most: {duplicates.MAX_CANDIDATES}")
    print("CPU ms of this process, medians; wall: the warm proposals' wall-clock median")
    header = f"{'backend':<11} {'open':>6} {'base':>6} {'cold':>7} {'x base':>7} {'warm':>6} {'x base':>7} {'wall':>6}"
    print(header + " found")
    for backend in args.backends.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            base, cold, warm, wall, found = run(backend, n, args.repeat)
            print(
                f"{backend:<11} {n:>6} {base:>6.1f} {cold:>7.1f} {cold / base:>7.1f} {warm:>6.1f} {warm / base:>7.1f}"
                f" {wall:>6.1f} {found}"
            )


if __name__ == "__main__":
    main()
