"""The city's config as typed, immutable values: OPDs, routing rules, SOP, reply texts, regions.

Built once by :func:`config.loader.load_city_config` and handed down; nothing here reads a file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType

from config.classes import ClassesConfig
from config.institutions import InstitutionsConfig
from config.regions import Regions

DEFAULT_LANGUAGE = "id"


def base_language(lang: str) -> str:
    """The language part of a tag: 'en-US' / 'en_GB' / 'EN' -> 'en'."""
    return re.split(r"[-_]", lang.strip().lower(), maxsplit=1)[0]


@dataclass(frozen=True, slots=True)
class Opd:
    """One Organisasi Perangkat Daerah a complaint can be routed to."""

    code: str
    name: str
    short_name: str
    kind: str
    district_code: str | None = None
    """Kemendagri code of a kecamatan (``32.71.01``): a district of the home region."""
    kelurahan: tuple[str, ...] = ()
    """The kelurahan of a kecamatan, for mapping a location to it."""
    contact: str | None = None
    """The OPD's e-mail address for notices of cases disposed to it (complaints.notify); optional."""
    # part-escalation: where overdue steps of this OPD's cases are escalated (falls back to contact).
    escalation: str | None = None
    """The OPD's e-mail address for escalations of overdue steps (complaints.escalation); optional."""

    @property
    def escalation_address(self) -> str | None:
        """Where an escalation goes: the ``escalation`` address, else the ``contact`` address."""
        return self.escalation or self.contact

    @property
    def is_kecamatan(self) -> bool:
        """True for the kecamatan offices."""
        return self.kind == "kecamatan"


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """Words that point a complaint to one OPD; see ``routing.yaml`` for the scoring."""

    opd: str
    keywords: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    weight: float = 1.0
    topic: str = ""


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """All routing rules plus the thresholds that turn scores into a decision."""

    min_score: float
    phrase_weight: float
    place_weight: float
    rules: tuple[RoutingRule, ...]


@dataclass(frozen=True, slots=True)
class SopState:
    """A status a case can be in: one of the nine SOP steps or an off-line state."""

    status: str
    step: int
    actor: str | None
    minutes: int | None
    """Time standard of this status; None when no clock runs (waiting for the citizen, done)."""
    labels: tuple[tuple[str, str], ...]
    description: str = ""
    main_line: bool = True
    terminal: bool = False
    # part-clock: how the time standard counts, and step 6's "4 x 6 jam" as a setting.
    clock: str = "working"
    """``working`` (the city's working hours, config/calendar.yaml) or ``wall`` (every minute counts)."""
    periods: int | None = None
    """When the SOP states the standard as periods ("4 x 6 jam"): how many; ``minutes`` is their total."""
    period_hours: float | None = None
    """The length of one period in (working) hours."""

    def label(self, lang: str) -> str:
        """The label in ``lang``, falling back to Indonesian."""
        labels = dict(self.labels)
        return labels.get(base_language(lang)) or labels[DEFAULT_LANGUAGE]


@dataclass(frozen=True, slots=True)
class SopConfig:
    """The SOP: nine steps in order, plus the triage, returned and finished states."""

    steps: tuple[SopState, ...]
    extra_states: tuple[SopState, ...]

    @property
    def states(self) -> tuple[SopState, ...]:
        """Every status, main line first."""
        return self.steps + self.extra_states

    @property
    def statuses(self) -> tuple[str, ...]:
        """Every status code, main line first."""
        return tuple(state.status for state in self.states)

    @property
    def total_minutes(self) -> int:
        """Sum of the nine steps' time standards (the SOP's ~31 h 40 min)."""
        return sum(step.minutes or 0 for step in self.steps)

    def state(self, status: str) -> SopState:
        """The state for ``status``; KeyError names an unknown status."""
        for state in self.states:
            if state.status == status:
                return state
        raise KeyError(f"unknown SOP status {status!r}")

    def step_for_status(self, status: str) -> int:
        """The SOP step number (1-9) a status belongs to."""
        return self.state(status).step

    def deadline_minutes(self, status: str) -> int | None:
        """Minutes the case may stay in ``status``; None when no clock runs (a finished case never runs late)."""
        state = self.state(status)
        return None if state.terminal else state.minutes

    def label(self, status: str, lang: str) -> str:
        """Human label of ``status`` in ``lang`` (falls back to Indonesian)."""
        return self.state(status).label(lang)

    def actor(self, status: str) -> str | None:
        """Who must act next: citizen, operator or opd (None once finished)."""
        return self.state(status).actor

    # part-clock
    def clock(self, status: str) -> str:
        """How ``status``'s time standard counts: ``working`` or ``wall`` (sop.yaml ``clock:``)."""
        return self.state(status).clock


@dataclass(frozen=True, slots=True)
class LanguageReplies:
    """The reply texts of one language (``replies/<lang>.yaml``)."""

    language: str
    templates: Mapping[str, Mapping[str, str]]
    """key -> {"text": long form, "sms": optional short form}."""
    fields: Mapping[str, str]
    """Identity field -> label ("nik" -> "NIK")."""
    problems: Mapping[str, str]
    """Problem code -> label ("missing" -> "belum diisi")."""
    return_reasons: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    """Reason templates for returning a complaint (part-actions): key -> {"label": ..., "text": ...}, in file order."""
    reply_with: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Identity field -> how to send it in a reply ("nik" -> "NIK <16 angka>"), for the return message (issue 13)."""


@dataclass(frozen=True, slots=True, eq=False)
class Replies:
    """Reply texts in every configured language; Indonesian is the fallback."""

    languages: Mapping[str, LanguageReplies]

    @property
    def available(self) -> tuple[str, ...]:
        """Language codes that have texts: Indonesian first, then the others sorted."""
        return tuple(sorted(self.languages, key=lambda lang: (lang != DEFAULT_LANGUAGE, lang)))

    def language(self, lang: str | None) -> str:
        """The reply language for a tag such as 'en-US'; Indonesian when it has no texts."""
        base = base_language(lang or "")
        return base if base in self.languages else DEFAULT_LANGUAGE

    def of(self, lang: str | None) -> LanguageReplies:
        """The texts for ``lang`` (see :meth:`language`)."""
        return self.languages[self.language(lang)]

    def template(self, key: str, lang: str | None) -> Mapping[str, str] | None:
        """Template ``key`` in ``lang``, else in Indonesian; None when neither has it."""
        template = self.of(lang).templates.get(key)
        if template is None:
            template = self.languages[DEFAULT_LANGUAGE].templates.get(key)
        return template


@dataclass(frozen=True, slots=True, eq=False)
class CityConfig:
    """Everything a city configures in its CONFIG_DIR, checked and loaded once per process."""

    directory: Path
    home_region: str
    """The city's own regency/city code (REGION_CODE, e.g. ``32.71``); its kecamatan are its districts."""
    opds: Mapping[str, Opd]
    """The OPD directory keyed by code, in file order."""
    routing: RoutingConfig
    sop: SopConfig
    replies: Replies
    regions: Regions
    calendar: CalendarConfig = field(default_factory=lambda: CalendarConfig())  # part-clock: calendar.yaml
    classes: ClassesConfig = field(default_factory=ClassesConfig)  # issue 14: complaint_classes.yaml
    institutions: InstitutionsConfig = field(default_factory=InstitutionsConfig)  # issue 14: institutions.yaml

    def opd(self, code: str | None) -> Opd | None:
        """The OPD with ``code``, or None (no code, or not in the directory)."""
        return self.opds.get(code or "")

    def summary(self) -> str:
        """One line for operators: what this config holds."""
        return (
            f"{len(self.opds)} OPDs, {len(self.routing.rules)} routing rules, {len(self.sop.steps)} SOP steps, "
            f"languages {','.join(self.replies.available)}, {len(self.regions)} regions, "
            f"{len(self.classes.classes)} complaint classes"
        )


# part-clock: the working calendar (config/calendar.yaml); complaints/sla.py counts time on it.
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
"""Day names as calendar.yaml writes them, Monday first (``date.weekday()`` order)."""

_OFFICE_HOURS = (8 * 60, 16 * 60)


@dataclass(frozen=True, slots=True)
class CalendarConfig:
    """When the city works: weekly hours, the public-holiday country and the decreed days off.

    The default is Monday-Friday 08:00-16:00 in Asia/Jakarta with Indonesia's public holidays and
    no extra days off; a city's calendar.yaml says otherwise.
    """

    timezone: str = "Asia/Jakarta"
    week: tuple[tuple[int, int] | None, ...] = (_OFFICE_HOURS,) * 5 + (None, None)
    """Per weekday (Monday first): working (start, end) in minutes after local midnight, or None (day off)."""
    public_holidays: str | None = "ID"
    """ISO country code for the ``holidays`` package, or None for no public holidays."""
    cuti_bersama: tuple[date, ...] = ()
    """Joint leave days set each year by the SKB 3 Menteri: the offices are closed."""
    local_days_off: tuple[date, ...] = ()
    """The city's own days off (a regional holiday, an office closure)."""
