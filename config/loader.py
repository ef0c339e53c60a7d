"""Load and check a city's config directory (CONFIG_DIR) into one :class:`CityConfig`.

The OPD directory, routing rules, SOP steps, reply texts and the region list are data that
admins edit, so :func:`load_city_config` checks all of it and raises :class:`ConfigError`
listing every problem as ``path:line: message``: a typo must stop start-up, not misroute a
complaint at 3 a.m. It is called once per process (the runtime holds the result) and by
``intake config check``; nothing else reads these files.

A config directory holds all of these files (``intake config init DIR`` copies the shipped
ones to start from)::

    opd.yaml  routing.yaml  sop.yaml  calendar.yaml  complaint_classes.yaml  replies/<lang>.yaml (id required)
    institutions.yaml (optional)
    data/wilayah.csv
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from email_validator import EmailNotValidError, validate_email

from config.classes import CLASSES_FILE, read_classes
from config.institutions import INSTITUTIONS_FILE, read_institutions
from config.model import (
    DEFAULT_LANGUAGE,
    WEEKDAYS,
    CalendarConfig,
    CityConfig,
    LanguageReplies,
    Opd,
    Replies,
    RoutingConfig,
    RoutingRule,
    SopConfig,
    SopState,
    base_language,
)
from config.problems import ConfigError, ConfigProblem, LineDict, LineList, Problems, read_yaml
from config.regions import REGIONS_FILE, Regions, load_regions
from config.settings import SHIPPED_CONFIG_DIR
from config.statuses import CODE_STATUSES

__all__ = [
    "CONFIG_FILES",
    "DEFAULT_LANGUAGE",
    "SHIPPED_CONFIG_DIR",
    "CityConfig",
    "ConfigError",
    "ConfigProblem",
    "Opd",
    "RoutingConfig",
    "RoutingRule",
    "SopConfig",
    "SopState",
    "base_language",
    "load_city_config",
    "load_replies",
    "shipped_files",
]

OPD_FILE, ROUTING_FILE, SOP_FILE, REPLIES_DIR = Path("opd.yaml"), Path("routing.yaml"), Path("sop.yaml"), "replies"
CALENDAR_FILE = Path("calendar.yaml")  # part-clock: working hours and days off of the SLA clock
# Every file a config directory must hold, besides replies/<lang>.yaml.
CONFIG_FILES = (OPD_FILE, ROUTING_FILE, SOP_FILE, REGIONS_FILE, CALENDAR_FILE, CLASSES_FILE)
# Shipped beside the region list: where it comes from and under which licence.
_NOTICE_FILES = (REGIONS_FILE.parent / "README.md",)

OPD_KINDS = frozenset({"dinas", "badan", "satuan", "perumda", "rsud", "kecamatan", "kantor"})
ACTORS = frozenset({"citizen", "operator", "opd"})
CLOCKS = frozenset({"working", "wall"})  # part-clock: how a step's time standard counts
_CODE_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_STATUS_RE = re.compile(r"[a-z][a-z0-9_]*")
_LANG_RE = re.compile(r"[a-z]{2,3}")
# Template variant keys: "text", or a channel name ("sms", "telegram", "whatsapp").
_VARIANT_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")


def load_city_config(config_dir: Path, *, home_region: str = "32.71") -> CityConfig:
    """Read and check every file of ``config_dir``; raise :class:`ConfigError` listing all problems.

    ``home_region`` is REGION_CODE: the regency/city whose districts the kecamatan OPDs must be.
    """
    directory = Path(config_dir)
    problems = Problems()
    if not directory.is_dir():
        problems.add(directory, 0, "CONFIG_DIR is not a directory (`intake config init DIR` creates one)")
        problems.raise_if_any()
    regions = load_regions(directory / REGIONS_FILE, problems)
    if len(regions) and not regions.is_regency(home_region):
        problems.add(directory / REGIONS_FILE, 0, f"REGION_CODE {home_region!r} is not a regency/city in this list")
    opds = _read_opds(directory / OPD_FILE, problems, regions, home_region)
    routing = _read_routing(directory / ROUTING_FILE, problems, opds)
    sop = _read_sop(directory / SOP_FILE, problems)
    replies = _read_replies(directory / REPLIES_DIR, problems)
    calendar = _read_calendar(directory / CALENDAR_FILE, problems)  # part-clock
    classes = read_classes(directory / CLASSES_FILE, problems, set(opds) if opds is not None else None)  # issue 14
    institutions = read_institutions(directory / INSTITUTIONS_FILE, problems)  # issue 14: national matters
    problems.raise_if_any()
    # No problem recorded means every file was read.
    assert opds is not None and routing is not None and sop is not None and replies is not None  # noqa: S101
    assert calendar is not None and classes is not None and institutions is not None  # noqa: S101
    return CityConfig(
        directory, home_region, MappingProxyType(opds), routing, sop, replies, regions, calendar, classes, institutions
    )


def load_replies(config_dir: Path) -> Replies:
    """Only the reply texts of ``config_dir`` (checked as :func:`load_city_config` does), for an
    adapter that writes texts itself and is built without the runtime."""
    problems = Problems()
    replies = _read_replies(Path(config_dir) / REPLIES_DIR, problems)
    problems.raise_if_any()
    assert replies is not None  # noqa: S101 - no problem means read
    return replies


def shipped_files() -> list[Path]:
    """Every shipped config file, relative to the shipped directory: what `intake config init` copies."""
    replies = sorted(p.relative_to(SHIPPED_CONFIG_DIR) for p in (SHIPPED_CONFIG_DIR / REPLIES_DIR).glob("*.yaml"))
    return [*CONFIG_FILES, INSTITUTIONS_FILE, *replies, *_NOTICE_FILES]


# --------------------------------------------------------------------------- OPD directory


def _contact(raw: LineDict, path: Path, problems: Problems, key: str = "contact") -> str | None:
    """The OPD's optional notice address (``key``: ``contact``, or ``escalation`` for part-escalation),
    normalised; a problem (and None) when it is not an e-mail address.

    No DNS lookup: a config check must not depend on the network.
    """
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.add(path, raw.line_of(key), f"{key} must be an e-mail address, not {value!r}")
        return None
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        problems.add(path, raw.line_of(key), f"{key} {value!r} is not an e-mail address: {exc}")
        return None


def _read_opds(path: Path, problems: Problems, regions: Regions, home_region: str) -> dict[str, Opd] | None:
    """The OPDs that are valid; None when the file cannot be read at all."""
    opds: dict[str, Opd] = {}
    data = read_yaml(path, problems)
    if data is None:
        return None
    entries = _list(data, "opds", path, problems)
    for index, raw in enumerate(entries):
        line = entries.line_of(index)
        if not isinstance(raw, LineDict):
            problems.add(path, line, f"opds[{index}] must be a mapping")
            continue
        fields = [_text(raw, key, path, problems) for key in ("code", "name", "short_name", "kind")]
        code, name, short_name, kind = fields
        if code is not None and not _CODE_RE.fullmatch(code):
            problems.add(path, raw.line_of("code"), f"code {code!r} must be lower-case letters, digits and dashes")
        elif code is not None and code in opds:
            problems.add(path, raw.line_of("code"), f"OPD code {code!r} is used twice")
        if kind is not None and kind not in OPD_KINDS:
            problems.add(path, raw.line_of("kind"), f"kind {kind!r} is not one of {sorted(OPD_KINDS)}")
        district = raw.get("district_code")
        if kind == "kecamatan":
            # The rule comes from the region list: a kecamatan is a district of REGION_CODE.
            known = isinstance(district, str) and regions.is_known_district(district)
            if not (known and str(district).startswith(home_region + ".")):
                problems.add(
                    path,
                    raw.line_of("district_code"),
                    f"kecamatan {code!r} needs a district_code of a district of REGION_CODE {home_region} "
                    f"in {REGIONS_FILE}, not {district!r}",
                )
            elif name is not None and str(regions.name(str(district))).lower() not in name.lower():
                # Kemendagri and the statistics office (BPS) number Kota Bogor's districts
                # differently; a name check catches a code copied from the wrong table.
                problems.add(
                    path,
                    raw.line_of("district_code"),
                    f"district {district} is {regions.name(str(district))!r} in {REGIONS_FILE}, not {name!r}",
                )
        elif district is not None:
            problems.add(path, raw.line_of("district_code"), "only a kecamatan has a district_code")
        kelurahan = _strings(raw.get("kelurahan") or [], path, raw.line_of("kelurahan"), "kelurahan", problems)
        contact = _contact(raw, path, problems)
        escalation = _contact(raw, path, problems, "escalation")  # part-escalation
        if None not in fields and code not in opds:
            opds[str(code)] = Opd(
                str(code), str(name), str(short_name), str(kind), district, tuple(kelurahan), contact, escalation
            )
    return opds


# --------------------------------------------------------------------------- routing rules


def _read_routing(path: Path, problems: Problems, opds: dict[str, Opd] | None) -> RoutingConfig | None:
    """The rules; with ``opds`` None (opd.yaml unreadable) their OPD names cannot be checked."""
    data = read_yaml(path, problems)
    if data is None:
        return None
    min_score = _number(data, "min_score", path, problems)
    phrase_weight = _number(data, "phrase_weight", path, problems, default=2.0)
    place_weight = _number(data, "place_weight", path, problems, default=0.0)
    entries = _list(data, "rules", path, problems)
    rules: list[RoutingRule] = []
    for index, raw in enumerate(entries):
        line = entries.line_of(index)
        if not isinstance(raw, LineDict):
            problems.add(path, line, f"rules[{index}] must be a mapping")
            continue
        opd = raw.get("opd")
        if opds is not None and opd not in opds:
            problems.add(path, raw.line_of("opd"), f"unknown OPD {opd!r} (not in {OPD_FILE})")
        keywords = _strings(raw.get("keywords") or [], path, raw.line_of("keywords"), "keywords", problems)
        phrases = _strings(raw.get("phrases") or [], path, raw.line_of("phrases"), "phrases", problems)
        if not raw.get("keywords") and not raw.get("phrases"):
            problems.add(path, line, f"rule for {opd!r} has no keywords and no phrases")
        for keyword in keywords:
            if len(keyword.split()) != 1:
                problems.add(
                    path, raw.line_of("keywords"), f"keyword {keyword!r} has several words; list it under phrases"
                )
        weight = _number(raw, "weight", path, problems, default=1.0)
        if weight is not None and weight <= 0:
            problems.add(path, raw.line_of("weight"), "weight must be positive")
        rules.append(RoutingRule(str(opd), tuple(keywords), tuple(phrases), weight or 1.0, str(raw.get("topic") or "")))
    if min_score is None or phrase_weight is None or place_weight is None:
        return None
    if place_weight > 0:
        rules.extend(_place_rules((opds or {}).values(), place_weight))
    return RoutingConfig(min_score, phrase_weight, place_weight, tuple(rules))


def _place_rules(opds: Any, weight: float) -> list[RoutingRule]:
    """One rule per kecamatan from its own name and its kelurahan names."""
    rules = []
    for opd in opds:
        if not opd.is_kecamatan:
            continue
        names = dict.fromkeys([opd.name.removeprefix("Kecamatan ").strip(), *opd.kelurahan])
        keywords = tuple(n for n in names if len(n.split()) == 1)
        phrases = tuple(n for n in names if len(n.split()) > 1)
        rules.append(RoutingRule(opd.code, keywords, phrases, weight, topic="places"))
    return rules


# --------------------------------------------------------------------------- SOP


def _read_sop(path: Path, problems: Problems) -> SopConfig | None:
    data = read_yaml(path, problems)
    if data is None:
        return None
    before = len(problems.items)
    raw_steps = _list(data, "steps", path, problems)
    raw_extras = data.get("states") or LineList()
    if not isinstance(raw_extras, LineList):
        problems.add(path, data.line_of("states"), "'states' must be a list")
        raw_extras = LineList()
    steps = [_sop_state(raw, path, raw_steps.line_of(i), problems, True) for i, raw in enumerate(raw_steps)]
    extras = [_sop_state(raw, path, raw_extras.line_of(i), problems, False) for i, raw in enumerate(raw_extras)]
    if len(problems.items) > before:
        return None
    main = tuple(state for state, _ in steps if state is not None)
    extra = tuple(state for state, _ in extras if state is not None)
    numbers = [state.step for state in main]
    if numbers != list(range(1, len(main) + 1)):
        problems.add(path, raw_steps.line, f"steps must be numbered 1, 2, 3, ... in order, got {numbers}")
    seen: set[str] = set()
    for state, line in steps + extras:
        assert state is not None  # noqa: S101 - checked above
        if state.main_line and state.minutes is None:
            problems.add(path, line, f"step {state.step} ({state.status}) needs a time standard (minutes)")
        if state.status in seen:
            problems.add(path, line, f"status {state.status!r} is defined twice")
        if not 1 <= state.step <= len(main):
            problems.add(path, line, f"status {state.status!r} names step {state.step}, not an SOP step")
        seen.add(state.status)
    # The transition table moves cases between these codes: one missing here would fail the
    # first case that reaches it, so it stops start-up instead (reported where states are listed).
    for status in CODE_STATUSES:
        if status not in seen:
            line = data.line_of("states") if "states" in data else raw_steps.line
            problems.add(path, line, f"status {status!r} is used by the transition table but not defined here")
    return SopConfig(main, extra)


def _sop_state(raw: Any, path: Path, line: int, problems: Problems, main_line: bool) -> tuple[SopState | None, int]:
    if not isinstance(raw, LineDict):
        problems.add(path, line, "every step/state must be a mapping")
        return None, line
    before = len(problems.items)
    status = _text(raw, "status", path, problems) or ""
    if status and not _STATUS_RE.fullmatch(status):
        problems.add(path, raw.line_of("status"), f"status {status!r}: codes are lower-case ascii with underscores")
    step = raw.get("step")
    if not isinstance(step, int) or isinstance(step, bool):
        problems.add(path, raw.line_of("step"), f"status {status!r}: 'step' must be a whole number")
    terminal = bool(raw.get("terminal", False))
    actor = raw.get("actor")
    if actor not in ACTORS and not (terminal and actor is None):
        problems.add(path, raw.line_of("actor"), f"status {status!r}: actor {actor!r} is not one of {sorted(ACTORS)}")
    minutes = raw.get("minutes")
    if minutes is not None and (not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0):
        problems.add(
            path, raw.line_of("minutes"), f"status {status!r}: minutes must be a positive whole number or null"
        )
    clock, periods, period_hours, minutes = _sop_clock(raw, status, minutes, path, problems)  # part-clock
    labels = raw.get("label")
    if not isinstance(labels, dict) or not isinstance(labels.get(DEFAULT_LANGUAGE), str):
        problems.add(path, raw.line_of("label"), f"status {status!r}: needs a label with at least '{DEFAULT_LANGUAGE}'")
    if len(problems.items) > before or not isinstance(labels, dict) or not isinstance(step, int):
        return None, line
    pairs = tuple((str(k), str(v)) for k, v in labels.items())
    state = SopState(
        status,
        step,
        actor,
        minutes,
        pairs,
        str(raw.get("description") or ""),
        main_line,
        terminal,
        clock,
        periods,
        period_hours,
    )
    return state, line


# part-clock: a step's `clock:` and the "4 x 6 jam" reading (`periods:` x `period_hours:`).
def _sop_clock(
    raw: LineDict, status: str, minutes: Any, path: Path, problems: Problems
) -> tuple[str, int | None, float | None, Any]:
    """The step's clock kind, its periods and their length, and its minutes (the periods' total when given)."""
    clock = raw.get("clock", "working")
    if clock not in CLOCKS:
        problems.add(path, raw.line_of("clock"), f"status {status!r}: clock {clock!r} is not one of {sorted(CLOCKS)}")
        clock = "working"
    periods, period_hours = raw.get("periods"), raw.get("period_hours")
    if periods is None and period_hours is None:
        return str(clock), None, None, minutes
    count = periods if isinstance(periods, int) and not isinstance(periods, bool) and periods > 0 else None
    length = (
        float(period_hours)
        if isinstance(period_hours, int | float) and not isinstance(period_hours, bool) and period_hours > 0
        else None
    )
    if count is None or length is None:
        problems.add(
            path,
            raw.line_of("periods" if "periods" in raw else "period_hours"),
            f"status {status!r}: periods (a positive whole number) and period_hours (positive) go together",
        )
        return str(clock), None, None, minutes
    total = count * length * 60
    if total != int(total):
        problems.add(
            path, raw.line_of("period_hours"), f"status {status!r}: periods x period_hours must be whole minutes"
        )
    if minutes is not None and minutes != total:
        problems.add(
            path,
            raw.line_of("minutes"),
            f"status {status!r}: minutes {minutes} disagrees with periods x period_hours ({int(total)} minutes)",
        )
    return str(clock), count, length, int(total)


# --------------------------------------------------------------------------- working calendar (part-clock)

_HOURS_RE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


def _read_calendar(path: Path, problems: Problems) -> CalendarConfig | None:
    """calendar.yaml: time zone, working hours per weekday, the holiday country and the decreed days off."""
    data = read_yaml(path, problems)
    if data is None:
        return None
    before = len(problems.items)
    zone = data.get("timezone", "Asia/Jakarta")
    if not isinstance(zone, str) or not _known_zone(zone):
        problems.add(path, data.line_of("timezone"), f"timezone {zone!r} is not an IANA time zone (Asia/Jakarta)")
    hours = data.get("working_hours")
    week: list[tuple[int, int] | None] = [None] * 7
    if not isinstance(hours, LineDict) or not hours:
        problems.add(path, data.line_of("working_hours"), "'working_hours' must map weekdays to \"HH:MM-HH:MM\"")
        hours = LineDict()
    for day, value in hours.items():
        if day not in WEEKDAYS:
            problems.add(path, hours.line_of(day), f"{day!r} is not a weekday ({', '.join(WEEKDAYS)})")
            continue
        window = _hours_window(value)
        if window is None:
            problems.add(path, hours.line_of(day), f'{day}: {value!r} must be "HH:MM-HH:MM" with start before end')
            continue
        week[WEEKDAYS.index(day)] = window
    country = data.get("public_holidays", "ID")
    if country is not None and not _holiday_country(country):
        problems.add(
            path,
            data.line_of("public_holidays"),
            f"public_holidays {country!r}: not a country the holidays package knows",
        )
    cuti_bersama = _dates(data, "cuti_bersama", path, problems)
    local = _dates(data, "local_days_off", path, problems)
    if len(problems.items) > before:
        return None
    return CalendarConfig(str(zone), tuple(week), country, cuti_bersama, local)


def _known_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: PLC0415 - only the check needs it

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _holiday_country(code: Any) -> bool:
    import holidays  # noqa: PLC0415 - loaded only when a calendar is checked

    return isinstance(code, str) and code in holidays.list_supported_countries()


def _hours_window(value: Any) -> tuple[int, int] | None:
    match = _HOURS_RE.fullmatch(str(value).strip()) if isinstance(value, str) else None
    if match is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or end > 24 * 60 or start >= end:
        return None
    return start, end


def _dates(data: LineDict, key: str, path: Path, problems: Problems) -> tuple[date, ...]:
    raw = data.get(key) or []
    if not isinstance(raw, list):
        problems.add(path, data.line_of(key), f"'{key}' must be a list of dates (YYYY-MM-DD)")
        return ()
    days: list[date] = []
    for index, value in enumerate(raw):
        day = value if isinstance(value, date) else None
        if isinstance(value, str):
            try:
                day = date.fromisoformat(value.strip())
            except ValueError:
                day = None
        if day is None:
            line = raw.line_of(index) if isinstance(raw, LineList) else data.line_of(key)
            problems.add(path, line, f"{key}[{index}]: {value!r} is not a date (YYYY-MM-DD)")
            continue
        days.append(day)
    return tuple(sorted(set(days)))


# --------------------------------------------------------------------------- reply texts


STILL_PASSED: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        # Escalation mails said "{late_hours} jam {late_minutes} menit" before {late} (working time
        # on working-hours steps, issue 10 review): a city's wording of then still renders.
        "escalation": frozenset({"late_hours", "late_minutes"}),
        "escalation_supervisor": frozenset({"late_hours", "late_minutes"}),
    }
)
"""Placeholders the code passes to a template although the shipped wording no longer uses them."""


def _read_replies(directory: Path, problems: Problems) -> Replies | None:
    files = sorted(p for p in directory.glob("*.yaml") if _LANG_RE.fullmatch(p.stem))
    if not any(p.stem == DEFAULT_LANGUAGE for p in files):
        problems.add(directory / f"{DEFAULT_LANGUAGE}.yaml", 0, "file is missing (the fallback language)")
        return None
    # Every template the code renders is in the shipped Indonesian file; a city's files need them all.
    required = _template_keys(SHIPPED_CONFIG_DIR / REPLIES_DIR / f"{DEFAULT_LANGUAGE}.yaml")
    # The values the code passes to each template are the ones the shipped templates use: a city's
    # wording (Indonesian included) that asks for another one would fail when the reply is rendered.
    supplied = _template_placeholders(SHIPPED_CONFIG_DIR / REPLIES_DIR / f"{DEFAULT_LANGUAGE}.yaml")
    for key, still in STILL_PASSED.items():
        supplied.setdefault(key, set()).update(still)
    languages: dict[str, LanguageReplies] = {}
    for path in sorted(files, key=lambda p: p.stem != DEFAULT_LANGUAGE):  # Indonesian first: the reference
        data = read_yaml(path, problems)
        if data is None:
            continue
        templates = data.get("templates")
        if not isinstance(templates, LineDict) or not templates:
            problems.add(path, data.line_of("templates"), "'templates' must be a non-empty mapping")
            continue
        for key in sorted(required - set(templates)):
            problems.add(path, data.line_of("templates"), f"template {key!r} is missing (the code uses it)")
        normalised: dict[str, Any] = {}
        for key, value in templates.items():
            line = templates.line_of(key)
            form = {"text": value} if isinstance(value, str) else value  # a bare string: no SMS form
            if not isinstance(form, dict) or not isinstance(form.get("text"), str):
                problems.add(path, line, f"template {key!r} needs a 'text' string")
                continue
            # Besides 'text', a template may word itself for one channel: 'sms', 'whatsapp', ...
            if not all(_VARIANT_RE.fullmatch(str(k)) and isinstance(v, str) for k, v in form.items()):
                problems.add(path, line, f"template {key!r} may only have 'text' and per-channel strings ('sms', ...)")
                continue
            names = _placeholders(form.values())
            if names is None:
                problems.add(path, line, f"template {key!r} has an unbalanced '{{' or '}}'")
                continue
            if str(key) in supplied and not names <= supplied[str(key)]:
                unknown = ", ".join("{" + name + "}" for name in sorted(names - supplied[str(key)]))
                known = ", ".join("{" + name + "}" for name in sorted(supplied[str(key)])) or "none"
                problems.add(
                    path, line, f"template {key!r} uses {unknown}, which the code does not pass (it passes: {known})"
                )
            normalised[str(key)] = MappingProxyType({k: str(v).strip() for k, v in form.items()})
        labels = {}
        for section in ("fields", "problems", "reply_with"):
            raw = data.get(section) or {}
            if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
                problems.add(path, data.line_of(section), f"'{section}' must map codes to label strings")
                raw = {}
            labels[section] = MappingProxyType({str(k): v for k, v in raw.items()})
        lang = path.stem
        reasons = _read_return_reasons(data, path, problems)
        languages[lang] = LanguageReplies(
            lang, MappingProxyType(normalised), labels["fields"], labels["problems"], reasons, labels["reply_with"]
        )
    return Replies(MappingProxyType(languages)) if DEFAULT_LANGUAGE in languages else None


def _read_return_reasons(data: LineDict, path: Path, problems: Problems) -> Mapping[str, Mapping[str, str]]:
    """``return_reasons:`` (optional): key -> {label, text}, the operator's reasons for returning a complaint."""
    raw = data.get("return_reasons")
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, LineDict):
        problems.add(path, data.line_of("return_reasons"), "'return_reasons' must map keys to {label, text}")
        return MappingProxyType({})
    reasons: dict[str, Mapping[str, str]] = {}
    for key, entry in raw.items():
        line = raw.line_of(key)
        if not isinstance(entry, LineDict):
            problems.add(path, line, f"return reason {key!r} must be a mapping with 'label' and 'text'")
            continue
        values = {name: entry.get(name) for name in ("label", "text")}
        missing = [name for name, value in values.items() if not isinstance(value, str) or not value.strip()]
        if missing:
            problems.add(
                path, line, f"return reason {key!r} needs a non-empty {' and '.join(repr(m) for m in missing)}"
            )
            continue
        reasons[str(key)] = MappingProxyType({name: " ".join(str(value).split()) for name, value in values.items()})
    return MappingProxyType(reasons)


def _template_placeholders(path: Path) -> dict[str, set[str]]:
    """Each shipped template's placeholders, over all its forms (text, sms, ...)."""
    data = read_yaml(path, Problems())
    templates = data.get("templates") if data is not None else None
    found: dict[str, set[str]] = {}
    for key, value in (templates or {}).items() if isinstance(templates, dict) else ():
        forms = [value] if isinstance(value, str) else list(value.values()) if isinstance(value, dict) else []
        found[str(key)] = _placeholders(str(form) for form in forms) or set()
    return found


def _template_keys(path: Path) -> set[str]:
    data = read_yaml(path, Problems())
    templates = data.get("templates") if data is not None else None
    return {str(key) for key in templates} if isinstance(templates, dict) else set()


def _placeholders(texts: Any) -> set[str] | None:
    try:
        return {name for text in texts for _, name, _, _ in string.Formatter().parse(text) if name}
    except ValueError:
        return None


# --------------------------------------------------------------------------- helpers


def _list(data: LineDict | None, key: str, path: Path, problems: Problems) -> LineList:
    if data is None:
        return LineList()
    value = data.get(key)
    if not isinstance(value, LineList) or not value:
        problems.add(path, data.line_of(key), f"'{key}' must be a non-empty list")
        return LineList()
    return value


def _text(raw: LineDict, key: str, path: Path, problems: Problems) -> str | None:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.add(path, raw.line_of(key), f"'{key}' must be a non-empty string")
        return None
    return value.strip()


def _strings(values: Any, path: Path, line: int, what: str, problems: Problems) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        problems.add(path, line, f"'{what}' must be a list of non-empty strings")
        return []
    return [" ".join(v.split()) for v in values]


def _number(raw: LineDict, key: str, path: Path, problems: Problems, default: float | None = None) -> float | None:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(path, raw.line_of(key), f"'{key}' must be a number")
        return None
    return float(value)
