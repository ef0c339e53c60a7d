"""Open cases that look like the same complaint, proposed on a routed case's page (issue 10).

A case with an OPD (disposed, or past that and not closed) is compared with the other open cases
of the same OPD received within ``DUPLICATE_WINDOW_DAYS`` of it: cases whose stemmed words are at
least ``DUPLICATE_MIN_SIMILARITY`` alike (:mod:`complaints.similarity`) and that do not name a
different kelurahan or kecamatan are proposed, most alike first. The operator decides; nothing is
merged here (:mod:`complaints.merging` does that).

The candidate query is bounded: it reads at most :data:`MAX_CANDIDATES` cases, newest first, through
the ``(opd_code, created_at)`` index, without their texts. Each case's terms, place and excerpt are
computed once and kept with the case's ``updated_at``; only the texts of cases not remembered, or
changed since (a citizen's follow-up appends to the text), are read, in one more query. A page load
after the first costs one indexed query without texts and set intersections.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from complaints import similarity
from complaints.models import Complaint
from complaints.queries import STAFF_ROLES, Viewer, opd_statuses, visible_cases
from config.model import CityConfig
from config.statuses import CLOSED

MAX_CANDIDATES = 500
"""Most cases one page load compares with (newest first): bounds the page's time whatever the backlog."""
MAX_PROPOSALS = 10
EXCERPT_CHARS = 160
_MEMO_SIZE = 20_000


@dataclass(frozen=True, slots=True)
class Proposal:
    """One open case that may be the same complaint, as the case page lists it (no personal data)."""

    ticket: str
    status: str
    received_at: datetime
    score: float
    """Similarity of the stemmed words, 0..1."""
    shared: tuple[str, ...]
    """Some of the stems both cases share (why they were matched), alphabetical."""
    excerpt: str
    merged_count: int = 0
    """Cases already merged into this one: it is a main case, so the merge goes the other way round."""


@dataclass(frozen=True, slots=True)
class _Fingerprint:
    terms: frozenset[str]
    place: similarity.Place
    excerpt: str
    updated_at: datetime
    """The case's ``updated_at`` when its text was read: a later one (a follow-up appends text) reads it again."""


class _Memo:
    """A bounded, thread-safe map of case id -> fingerprint (page loads run in executor threads)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, _Fingerprint] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> _Fingerprint | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, value: _Fingerprint) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_MEMO = _Memo(_MEMO_SIZE)


def open_statuses() -> tuple[str, ...]:
    """The statuses of a case that is with an OPD and not closed: those that may be merged or merged into."""
    return tuple(s for s in opd_statuses() if s != CLOSED)


def fingerprint(case: Complaint, places: similarity.PlaceNames) -> _Fingerprint:
    """The terms, place and excerpt of ``case``, computed again only after the case changed."""
    known = _MEMO.get(case.id)
    if known is not None and known.updated_at == case.updated_at:
        return known
    return _fingerprints_of([(case.id, case.updated_at, case.subject, case.text)], places)[case.id]


def _fingerprints_of(
    rows: Iterable[tuple[str, datetime, str | None, str]], places: similarity.PlaceNames
) -> dict[str, _Fingerprint]:
    found: dict[str, _Fingerprint] = {}
    for case_id, updated_at, subject, text in rows:
        terms = similarity.terms(subject, text)
        found[case_id] = _Fingerprint(
            terms, similarity.place(subject, text, places), _excerpt(subject, text), updated_at
        )
        _MEMO.put(case_id, found[case_id])
    return found


def _fingerprints(
    session: Session, stamps: list[tuple[str, datetime]], places: similarity.PlaceNames
) -> dict[str, _Fingerprint]:
    """The fingerprints of the (case id, updated_at) pairs: remembered ones as they are, the others'
    (new, or changed since: a citizen's follow-up appends to the text) texts read in one query."""
    known: dict[str, _Fingerprint] = {}
    for case_id, updated_at in stamps:
        fp = _MEMO.get(case_id)
        if fp is not None and fp.updated_at == updated_at:
            known[case_id] = fp
    missing = [case_id for case_id, _ in stamps if case_id not in known]
    if missing:
        rows = session.execute(
            select(Complaint.id, Complaint.updated_at, Complaint.subject, Complaint.text).where(
                Complaint.id.in_(missing)
            )
        )
        known.update(_fingerprints_of(((r[0], r[1], r[2], r[3]) for r in rows), places))
    return known


def proposes_for(case: Complaint) -> bool:
    """True when ``case`` is one the page proposes duplicates for: routed to an OPD, open, not merged itself."""
    return bool(case.opd_code) and case.status in open_statuses() and case.merged_into_id is None


def proposals(
    session: Session,
    case: Complaint,
    viewer: Viewer,
    *,
    config: CityConfig,
    window_days: int,
    min_similarity: float,
) -> tuple[Proposal, ...]:
    """The open cases of ``case``'s OPD that look like the same complaint, most alike first.

    Empty for a viewer who may not merge (only operators and admins do), and for a case that is not
    routed, is closed or is merged itself. Reads through :func:`visible_cases` like every console query.
    """
    if viewer.role not in STAFF_ROLES or not proposes_for(case):
        return ()
    places = similarity.place_names(config.opds.values())
    mine = fingerprint(case, places)
    if not mine.terms:
        return ()
    window = timedelta(days=window_days)
    # Only the small columns: the texts are read for cases not yet remembered (the first page loads).
    rows = session.execute(
        visible_cases(viewer)
        .with_only_columns(Complaint.id, Complaint.ticket, Complaint.status, Complaint.created_at, Complaint.updated_at)
        .where(
            Complaint.opd_code == case.opd_code,
            Complaint.created_at >= case.created_at - window,
            Complaint.created_at <= case.created_at + window,
            Complaint.status.in_(open_statuses()),
            Complaint.merged_into_id.is_(None),
            Complaint.id != case.id,
        )
        # created_at alone: the index's own order, so the scan stops after MAX_CANDIDATES rows even on a
        # table without statistics (a tie-breaking second key made PostgreSQL read every row and sort).
        .order_by(Complaint.created_at.desc())
        .limit(MAX_CANDIDATES)
    ).all()
    prints = _fingerprints(session, [(row[0], row[4]) for row in rows], places)
    found: list[tuple[str, Proposal]] = []
    for case_id, ticket, status, created_at, _ in rows:
        other = prints.get(case_id)
        if other is None:
            continue  # gone since the first query
        score = similarity.similarity(mine.terms, other.terms)
        if score < min_similarity or not mine.place.compatible(other.place):
            continue
        shared = tuple(sorted(mine.terms & other.terms))[:8]
        found.append((case_id, Proposal(ticket, status, created_at, round(score, 3), shared, other.excerpt)))
    found.sort(key=lambda item: (-item[1].score, item[1].received_at, item[1].ticket))
    shown = found[:MAX_PROPOSALS]
    counts = _merged_counts(session, [case_id for case_id, _ in shown])
    return tuple(replace(p, merged_count=counts.get(case_id, 0)) for case_id, p in shown)


def _merged_counts(session: Session, case_ids: list[str]) -> dict[str, int]:
    """How many cases were merged into each of ``case_ids`` (those with none left out)."""
    if not case_ids:
        return {}
    rows = session.execute(
        select(Complaint.merged_into_id, func.count())
        .where(Complaint.merged_into_id.in_(case_ids))
        .group_by(Complaint.merged_into_id)
    )
    return {str(main_id): int(n) for main_id, n in rows}


def _excerpt(subject: str | None, text: str) -> str:
    line = " ".join(f"{subject + ': ' if subject else ''}{text}".split())
    return line if len(line) <= EXCERPT_CHARS else line[: EXCERPT_CHARS - 3].rstrip() + "..."


def forget_all() -> None:
    """Drop the remembered fingerprints (tests and benchmarks that reuse case ids across databases)."""
    _MEMO.clear()
