"""The report's figures as named tables in words: one source for the page, the CSV and the XLSX.

Each :class:`Table` holds a title, column headings and rows of plain values (text, whole
numbers, minutes as floats, shares as percentages). The page formats the numbers; the CSV and
XLSX files keep them as numbers, so a spreadsheet can add them up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from complaints.reports import MERGED_STATUS, OTHER_REASON, Report
from complaints.sla import calendar_of
from config.model import CityConfig

Cell = str | int | float | None


@dataclass(frozen=True, slots=True)
class Table:
    """One table of the report."""

    name: str
    """The table's name in download URLs (``/ops/reports/<name>.csv``)."""
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def share(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent with one decimal; None when there is nothing to share."""
    return round(100 * part / whole, 1) if whole else None


def minutes(value: float | None) -> float | None:
    """Minutes rounded to one decimal (None stays None)."""
    return None if value is None else round(value, 1)


def _opd(config: CityConfig, code: str | None, t: dict[str, str]) -> str:
    opd = config.opd(code)
    return opd.short_name if opd is not None else (code or t["report_no_opd"])


def _channel(t: dict[str, str], channel: str) -> str:
    return t.get("channel_" + channel, channel)


def _status(config: CityConfig, status: str, lang: str, t: dict[str, str]) -> str:
    if status == MERGED_STATUS:
        return t["report_status_merged"]
    return config.sop.label(status, lang) if status in config.sop.statuses else status


def _class(config: CityConfig, code: str, lang: str) -> str:
    chosen = config.classes.get(code)
    return chosen.label(lang) if chosen is not None else code


def citizen_reason(config: CityConfig, reason: str, lang: str, t: dict[str, str]) -> str:
    """A return-to-citizen reason in words: an identity problem (``nik:missing``) or a reason template."""
    replies = config.replies.of(lang)
    template = replies.return_reasons.get(reason)
    if template is not None:
        return str(template.get("label", reason))
    if reason == OTHER_REASON:
        return t["report_reason_other"]
    field, _, code = reason.partition(":")
    if code:
        return f"{replies.fields.get(field, field)} {replies.problems.get(code, code)}".strip()
    return reason


def _counts(name: str, title: str, first: str, t: dict[str, str], rows: Sequence[tuple[str, int]]) -> Table:
    return Table(name, title, (first, t["report_col_count"]), tuple((label, n) for label, n in rows))


def build_tables(report: Report, config: CityConfig, lang: str, t: dict[str, str]) -> dict[str, Table]:
    """Every table of ``report``, by name, in page order."""
    zone = calendar_of(config.calendar).zone
    steps = Table(
        "steps",
        t["report_steps"],
        (
            t["report_col_step"],
            t["report_col_status"],
            t["report_col_clock"],
            t["report_col_standard"],
            t["report_col_done"],
            t["report_col_within"],
            t["report_col_share"],
            t["report_col_median"],
            t["report_col_p90"],
        ),
        tuple(
            (
                s.step,
                _status(config, s.status, lang, t),
                t["report_clock_" + s.clock],
                s.standard,
                s.count,
                s.within,
                share(s.within, s.count),
                minutes(s.median),
                minutes(s.p90),
            )
            for s in report.steps
        ),
    )
    compliance = Table(
        "opd_compliance",
        t["report_opd_compliance"],
        (t["report_col_opd"], t["report_col_done"], t["report_col_within"], t["report_col_share"]),
        tuple(
            (_opd(config, c.opd_code, t), c.count, c.within, share(c.within, c.count)) for c in report.opd_compliance
        ),
    )
    classes = Table(
        "class_compliance",
        t["report_class_compliance"],
        (t["report_col_class"], t["report_col_class_due"], t["report_col_class_met"], t["report_col_class_share"]),
        tuple(
            (_class(config, c.complaint_class, lang), c.due, c.met, share(c.met, c.due))
            for c in report.class_compliance
        ),
    )
    ratings = Table(
        "ratings",
        t["report_ratings"],
        (
            t["report_col_opd"],
            t["report_col_answered"],
            t["report_col_ratings"],
            t["report_col_satisfied"],
            t["report_col_satisfied_share"],
            t["report_col_reopened"],
            t["report_col_reopened_share"],
        ),
        tuple(
            (
                _opd(config, r.opd_code, t),
                r.answered,
                r.ratings,
                r.satisfied,
                share(r.satisfied, r.ratings),
                r.reopened,
                share(r.reopened, r.answered),
            )
            for r in report.ratings
        ),
    )
    operator_returns = Table(
        "returns_operator_reasons",
        t["report_operator_reasons"],
        (t["report_col_ticket"], t["report_col_date"], t["report_col_opd"], t["report_col_reason"]),
        tuple(
            (r.ticket, r.at.astimezone(zone).strftime("%Y-%m-%d"), _opd(config, r.opd_code, t), r.reason)
            for r in report.operator_returns
        ),
    )
    answers = Table(
        "answers",
        t["report_answers"],
        (
            t["report_col_channel"],
            t["report_col_answers"],
            t["report_col_delivered"],
            t["report_col_sent"],
            t["report_col_on_the_way"],
            t["report_col_failed"],
        ),
        tuple((_channel(t, a.channel), a.total, a.delivered, a.sent, a.on_the_way, a.failed) for a in report.answers),
    )
    per_day = Table(
        "per_day",
        t["report_per_day"],
        (t["report_col_date"], t["report_col_channel"], t["report_col_count"]),
        tuple((day.isoformat(), _channel(t, channel), n) for day, channel, n in report.per_day),
    )
    received_by = (
        ("channels", "report_by_channel", "report_col_channel", [(_channel(t, c), n) for c, n in report.by_channel]),
        ("opds", "report_by_opd", "report_col_opd", [(_opd(config, c, t), n) for c, n in report.by_opd]),
        (
            "statuses",
            "report_by_status",
            "report_col_status",
            [(_status(config, st, lang, t), n) for st, n in report.by_status],
        ),
    )
    tables = [_counts(name, t[title], t[first], t, rows) for name, title, first, rows in received_by]
    tables += [steps, compliance, classes, ratings]
    tables.append(
        _counts(
            "returns_citizen",
            t["report_returns_citizen"].format(n=report.returned_to_citizen),
            t["report_col_reason"],
            t,
            [(citizen_reason(config, r, lang, t), n) for r, n in report.citizen_reasons],
        )
    )
    tables.append(
        _counts(
            "returns_operator",
            t["report_returns_operator"].format(n=report.returned_to_operator),
            t["report_col_opd"],
            t,
            [(_opd(config, c, t), n) for c, n in report.operator_returns_by_opd],
        )
    )
    tables += [operator_returns, answers, per_day]
    return {table.name: table for table in tables}
