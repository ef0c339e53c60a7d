"""Typed, validated, cached access to the data files in ``config/``.

The OPD directory, routing rules, SOP steps and reply templates are data that admins edit,
so every loader checks what it reads and raises :class:`ValueError` naming the file and the
entry at fault: a typo must stop start-up, not misroute a complaint at 3 a.m.

Each loader takes an optional ``path`` (tests point it at a temporary file) and is cached,
so callers may use it on every request; :func:`clear_caches` makes edited files take effect.
Results are immutable, or fresh copies where the promised type is a plain ``dict``, so no
caller can change what the next one sees.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).parent
OPD_PATH = CONFIG_DIR / "opd.yaml"
ROUTING_PATH = CONFIG_DIR / "routing.yaml"
SOP_PATH = CONFIG_DIR / "sop.yaml"
REPLIES_DIR = CONFIG_DIR / "replies"
DEFAULT_LANGUAGE = "id"

OPD_KINDS = frozenset({"dinas", "badan", "satuan", "perumda", "rsud", "kecamatan", "kantor"})
ACTORS = frozenset({"citizen", "operator", "opd"})
_CODE_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_STATUS_RE = re.compile(r"[a-z][a-z0-9_]*")
_LANG_RE = re.compile(r"[a-z]{2,3}")
# Template variant keys: "text", or a channel name ("sms", "telegram", "whatsapp").
_VARIANT_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
# Kota Bogor is 32.71 (Jawa Barat, Kota Bogor); its six kecamatan are 32.71.01 to 32.71.06.
_DISTRICT_RE = re.compile(r"32\.71\.\d{2}")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True, slots=True)
class Opd:
    """One Organisasi Perangkat Daerah a complaint can be routed to."""

    code: str
    name: str
    short_name: str
    kind: str
    district_code: str | None = None
    """Kemendagri code (``32.71.xx``), kecamatan only."""
    kelurahan: tuple[str, ...] = ()
    """The kelurahan of a kecamatan, for mapping a location to it."""

    @property
    def is_kecamatan(self) -> bool:
        """True for the six kecamatan offices."""
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
        """Minutes the case may stay in ``status``; None when no clock runs."""
        return self.state(status).minutes

    def label(self, status: str, lang: str) -> str:
        """Human label of ``status`` in ``lang`` (falls back to Indonesian)."""
        return self.state(status).label(lang)

    def actor(self, status: str) -> str | None:
        """Who must act next: citizen, operator or opd (None once finished)."""
        return self.state(status).actor


# --------------------------------------------------------------------------- loaders


def load_opds(path: Path | None = None) -> dict[str, Opd]:
    """The OPD directory keyed by code, in file order."""
    return {opd.code: opd for opd in _read_opds(Path(path or OPD_PATH))}


@lru_cache(maxsize=8)
def load_routing_rules(path: Path | None = None, *, opds_path: Path | None = None) -> RoutingConfig:
    """Routing rules, checked against the OPD directory, plus generated place-name rules.

    Raises ValueError naming any rule whose ``opd`` is not in ``opd.yaml``.
    """
    path = Path(path or ROUTING_PATH)
    opds = load_opds(opds_path)
    data = _read_yaml(path)
    min_score = _number(data, "min_score", path)
    phrase_weight = _number(data, "phrase_weight", path, default=2.0)
    place_weight = _number(data, "place_weight", path, default=0.0)
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ValueError(f"{path}: 'rules' must be a non-empty list")
    rules = [_routing_rule(raw, index, path, opds) for index, raw in enumerate(raw_rules)]
    if place_weight > 0:
        rules.extend(_place_rules(opds.values(), place_weight))
    return RoutingConfig(min_score, phrase_weight, place_weight, tuple(rules))


@lru_cache(maxsize=8)
def load_sop(path: Path | None = None) -> SopConfig:
    """The SOP steps and states; checks that steps run 1..9 and statuses are unique."""
    path = Path(path or SOP_PATH)
    data = _read_yaml(path)
    steps = tuple(_sop_state(raw, path, main_line=True) for raw in _list(data, "steps", path))
    extras = tuple(_sop_state(raw, path, main_line=False) for raw in data.get("states") or [])
    numbers = [step.step for step in steps]
    if numbers != list(range(1, len(steps) + 1)):
        raise ValueError(f"{path}: steps must be numbered 1, 2, 3, ... in order, got {numbers}")
    for state in steps:
        if state.minutes is None:
            raise ValueError(f"{path}: step {state.step} ({state.status}) needs a time standard")
    seen: set[str] = set()
    for state in steps + extras:
        if state.status in seen:
            raise ValueError(f"{path}: status {state.status!r} is defined twice")
        if not 1 <= state.step <= len(steps):
            raise ValueError(f"{path}: status {state.status!r} names step {state.step}, not an SOP step")
        seen.add(state.status)
    return SopConfig(steps, extras)


def load_replies(lang: str, path: Path | None = None) -> dict[str, Any]:
    """Reply templates and labels for ``lang``: ``templates`` (key -> {text, sms?}),
    ``fields`` and ``problems``. A fresh copy each call.

    Raises ValueError for a malformed language code and FileNotFoundError for a language
    that has no file; :func:`available_languages` lists those that do.
    """
    if path is None:
        if not _LANG_RE.fullmatch(lang):
            raise ValueError(f"not a language code: {lang!r}")
        path = REPLIES_DIR / f"{lang}.yaml"
    return copy.deepcopy(_read_replies(Path(path)))


@lru_cache(maxsize=4)
def available_languages(directory: Path | None = None) -> tuple[str, ...]:
    """Languages that have a reply file, sorted."""
    directory = Path(directory or REPLIES_DIR)
    return tuple(sorted(p.stem for p in directory.glob("*.yaml") if _LANG_RE.fullmatch(p.stem)))


def base_language(lang: str) -> str:
    """The language part of a tag: 'en-US' / 'en_GB' / 'EN' -> 'en'."""
    return re.split(r"[-_]", lang.strip().lower(), maxsplit=1)[0]


def clear_caches() -> None:
    """Forget every loaded file, so edited data files are read again."""
    for cached in (_read_opds, load_routing_rules, load_sop, _read_replies, available_languages):
        cached.cache_clear()


# --------------------------------------------------------------------------- helpers


def _read_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=_Loader)  # noqa: S506 - a safe loader
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


@lru_cache(maxsize=8)
def _read_opds(path: Path) -> tuple[Opd, ...]:
    opds: list[Opd] = []
    codes: set[str] = set()
    for index, raw in enumerate(_list(_read_yaml(path), "opds", path)):
        where = f"{path}: opds[{index}]"
        if not isinstance(raw, dict):
            raise ValueError(f"{where} must be a mapping")
        code, name, short_name, kind = (_text(raw, key, where) for key in ("code", "name", "short_name", "kind"))
        if not _CODE_RE.fullmatch(code):
            raise ValueError(f"{where}: code {code!r} must be lower-case letters, digits and dashes")
        if code in codes:
            raise ValueError(f"{where}: OPD code {code!r} is used twice")
        if kind not in OPD_KINDS:
            raise ValueError(f"{where}: kind {kind!r} is not one of {sorted(OPD_KINDS)}")
        district = raw.get("district_code")
        if kind == "kecamatan" and not (isinstance(district, str) and _DISTRICT_RE.fullmatch(district)):
            raise ValueError(f"{where}: kecamatan {code!r} needs a district_code like '32.71.01'")
        if kind != "kecamatan" and district is not None:
            raise ValueError(f"{where}: only a kecamatan has a district_code")
        kelurahan = tuple(_strings(raw.get("kelurahan") or [], f"{where}.kelurahan"))
        codes.add(code)
        opds.append(Opd(code, name, short_name, kind, district, kelurahan))
    return tuple(opds)


@lru_cache(maxsize=8)
def _read_replies(path: Path) -> dict[str, Any]:
    data = _read_yaml(path)
    templates = data.get("templates")
    if not isinstance(templates, dict) or not templates:
        raise ValueError(f"{path}: 'templates' must be a non-empty mapping")
    normalised: dict[str, dict[str, str]] = {}
    for key, value in templates.items():
        if isinstance(value, str):  # a bare string is the long form with no SMS variant
            value = {"text": value}
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            raise ValueError(f"{path}: template {key!r} needs a 'text' string")
        # Besides 'text', a template may word itself for one channel: 'sms', 'whatsapp', ...
        if not all(_VARIANT_RE.fullmatch(str(k)) and isinstance(v, str) for k, v in value.items()):
            raise ValueError(f"{path}: template {key!r} may only have 'text' and per-channel strings ('sms', ...)")
        normalised[str(key)] = {k: str(v).strip() for k, v in value.items()}
    result: dict[str, Any] = {"language": data.get("language", path.stem), "templates": normalised}
    for section in ("fields", "problems"):
        labels = data.get(section) or {}
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise ValueError(f"{path}: '{section}' must map codes to label strings")
        result[section] = {str(k): v for k, v in labels.items()}
    return result


def _routing_rule(raw: Any, index: int, path: Path, opds: dict[str, Opd]) -> RoutingRule:
    where = f"{path}: rules[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a mapping")
    opd = raw.get("opd")
    if opd not in opds:
        raise ValueError(f"{where}: unknown OPD {opd!r} (not in opd.yaml)")
    keywords = tuple(_strings(raw.get("keywords") or [], f"{where}.keywords"))
    phrases = tuple(_strings(raw.get("phrases") or [], f"{where}.phrases"))
    if not keywords and not phrases:
        raise ValueError(f"{where}: rule for {opd!r} has no keywords and no phrases")
    for keyword in keywords:
        if len(keyword.split()) != 1:
            raise ValueError(f"{where}: keyword {keyword!r} has several words; list it under phrases")
    weight = _number(raw, "weight", where, default=1.0)
    if weight <= 0:
        raise ValueError(f"{where}: weight must be positive")
    return RoutingRule(opd, keywords, phrases, weight, str(raw.get("topic") or ""))


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


def _sop_state(raw: Any, path: Path, *, main_line: bool) -> SopState:
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: every step/state must be a mapping")
    status = _text(raw, "status", str(path))
    where = f"{path}: status {status!r}"
    if not _STATUS_RE.fullmatch(status):
        raise ValueError(f"{where}: status codes are lower-case ascii with underscores")
    step = raw.get("step")
    if not isinstance(step, int) or isinstance(step, bool):
        raise ValueError(f"{where}: 'step' must be a number")
    terminal = bool(raw.get("terminal", False))
    actor = raw.get("actor")
    if actor not in ACTORS and not (terminal and actor is None):
        raise ValueError(f"{where}: actor {actor!r} is not one of {sorted(ACTORS)}")
    minutes = raw.get("minutes")
    if minutes is not None and (not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0):
        raise ValueError(f"{where}: minutes must be a positive whole number or null")
    labels = raw.get("label")
    if not isinstance(labels, dict) or not isinstance(labels.get(DEFAULT_LANGUAGE), str):
        raise ValueError(f"{where}: needs a label with at least '{DEFAULT_LANGUAGE}'")
    pairs = tuple((str(k), str(v)) for k, v in labels.items())
    description = str(raw.get("description") or "")
    return SopState(status, step, actor, minutes, pairs, description, main_line, terminal)


def _list(data: dict[str, Any], key: str, path: Path) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list) or not value:
        raise ValueError(f"{path}: '{key}' must be a non-empty list")
    return value


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


def _strings(values: Any, where: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(f"{where} must be a list of non-empty strings")
    return [" ".join(v.split()) for v in values]


def _number(raw: dict[str, Any], key: str, where: Any, default: float | None = None) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: '{key}' must be a number")
    return float(value)
