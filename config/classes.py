"""Complaint classes and their overall deadlines in working days (issue 14): complaint_classes.yaml.

A class (``ringan`` 2 working days, ``normatif`` 5, ...) sets a case's overall deadline beside the
SOP's per-step time standards; the operator picks it at verification from a proposal made by
:meth:`ClassesConfig.suggest`'s inputs (keywords of the text, the case's OPD, a default). This
module holds the checked data and its reader; :mod:`complaints.complaint_class` applies it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from config.problems import LineDict, Problems, read_yaml

__all__ = ["CLASSES_FILE", "ClassesConfig", "ComplaintClass", "read_classes"]

CLASSES_FILE = Path("complaint_classes.yaml")
_CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")  # fits complaints.complaint_class (String(40))
_MAX_DAYS = 365  # a deadline a year away is a typo, not a class


@dataclass(frozen=True, slots=True)
class ComplaintClass:
    """One class: its code (stored on the case), labels per language and working days allowed."""

    code: str
    labels: Mapping[str, str]
    working_days: int

    def label(self, lang: str) -> str:
        """The label in ``lang``, else Indonesian, else the code."""
        return self.labels.get(lang) or self.labels.get("id") or self.code


def _default_classes() -> Mapping[str, ComplaintClass]:
    days = {"ringan": 2, "normatif": 5, "tidak_berkadar_pengawasan": 14, "berkadar_pengawasan": 60}
    return MappingProxyType({c: ComplaintClass(c, MappingProxyType({}), d) for c, d in days.items()})


@dataclass(frozen=True, slots=True)
class ClassesConfig:
    """The classes in file order, the default class and the proposal rules."""

    classes: Mapping[str, ComplaintClass] = field(default_factory=_default_classes)
    default: str = "normatif"
    keywords: tuple[tuple[str, str], ...] = ()
    """(lower-case word, class code) pairs, in file order: the first word found in the text decides."""
    by_opd: Mapping[str, str] = field(default_factory=dict)
    """OPD code -> class code, when no keyword decided."""

    def get(self, code: str | None) -> ComplaintClass | None:
        """The class with ``code``, or None."""
        return self.classes.get(code or "")


def read_classes(path: Path, problems: Problems, opd_codes: set[str] | None) -> ClassesConfig | None:
    """Read and check complaint_classes.yaml; record every problem with its line; None when any."""
    data = read_yaml(path, problems)
    if data is None:
        return None
    before = len(problems.items)
    raw = data.get("classes")
    classes: dict[str, ComplaintClass] = {}
    if not isinstance(raw, LineDict) or not raw:
        problems.add(path, data.line_of("classes"), "'classes' must map class codes to label and working_days")
        raw = LineDict()
    for code, entry in raw.items():
        found = _read_class(code, entry, path, raw.line_of(code), problems)
        if found is not None:
            classes[code] = found
    default = data.get("default")
    if raw and default not in raw:
        problems.add(path, data.line_of("default"), f"default {default!r} is not one of the classes")
    suggest = data.get("suggest", LineDict())
    if not isinstance(suggest, LineDict):
        problems.add(path, data.line_of("suggest"), "'suggest' must be a mapping (keywords, opd)")
        suggest = LineDict()
    keywords = _read_keywords(suggest, path, problems, raw)
    by_opd = _read_by_opd(suggest, path, problems, raw, opd_codes)
    if len(problems.items) > before:
        return None
    return ClassesConfig(MappingProxyType(classes), str(default), keywords, MappingProxyType(by_opd))


def _read_class(code: Any, entry: Any, path: Path, line: int, problems: Problems) -> ComplaintClass | None:
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
        problems.add(path, line, f"class code {code!r} must be lower-case letters, digits and _ (up to 40)")
        return None
    if not isinstance(entry, LineDict):
        problems.add(path, line, f"{code}: must have 'label' and 'working_days'")
        return None
    days = entry.get("working_days")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= _MAX_DAYS:
        problems.add(path, entry.line_of("working_days"), f"{code}: working_days must be a whole number 1-{_MAX_DAYS}")
        return None
    labels = entry.get("label")
    if isinstance(labels, str):
        labels = {"id": labels}
    if not isinstance(labels, dict) or not labels or not all(isinstance(v, str) and v for v in labels.values()):
        problems.add(path, entry.line_of("label"), f"{code}: label must be text or a mapping of language -> text")
        return None
    return ComplaintClass(code, MappingProxyType({str(k): str(v) for k, v in labels.items()}), days)


def _read_keywords(
    suggest: LineDict, path: Path, problems: Problems, classes: Mapping[str, Any]
) -> tuple[tuple[str, str], ...]:
    raw = suggest.get("keywords", LineDict())
    if not isinstance(raw, LineDict):
        problems.add(path, suggest.line_of("keywords"), "suggest.keywords must map class codes to lists of words")
        return ()
    pairs: list[tuple[str, str]] = []
    for code, words in raw.items():
        if code not in classes:
            problems.add(path, raw.line_of(code), f"suggest.keywords: {code!r} is not one of the classes")
            continue
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            problems.add(path, raw.line_of(code), f"suggest.keywords.{code} must be a list of words")
            continue
        pairs.extend((w.strip().lower(), code) for w in words)
    return tuple(pairs)


def _read_by_opd(
    suggest: LineDict, path: Path, problems: Problems, classes: Mapping[str, Any], opd_codes: set[str] | None
) -> dict[str, str]:
    raw = suggest.get("opd", LineDict())
    if not isinstance(raw, LineDict):
        problems.add(path, suggest.line_of("opd"), "suggest.opd must map OPD codes to class codes")
        return {}
    for opd, code in raw.items():
        if opd_codes is not None and opd not in opd_codes:
            problems.add(path, raw.line_of(opd), f"suggest.opd: {opd!r} is not an OPD of opd.yaml")
        elif code not in classes:
            problems.add(path, raw.line_of(opd), f"suggest.opd.{opd}: {code!r} is not one of the classes")
    return {str(k): str(v) for k, v in raw.items()}
