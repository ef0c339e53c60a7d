"""Reading config files so that every problem can be reported as ``path:line: message``.

A city edits these files by hand; a start-up that says "routing.yaml:212: unknown OPD 'dlhh'"
saves the hunt. So YAML is read with a loader that remembers where each mapping, list and
value starts (:class:`LineDict`, :class:`LineList`), and the checks collect every problem into
one :class:`Problems` list instead of stopping at the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from config.settings import ConfigurationError

__all__ = ["ConfigError", "ConfigProblem", "LineDict", "LineList", "Problems", "read_yaml"]


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong in one file, at one line (1-based; 0 when the file as a whole is meant)."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


class ConfigError(ConfigurationError):
    """A config directory that cannot be used; ``problems`` lists every fault found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid config:\n" + "\n".join(str(p) for p in problems))


@dataclass
class Problems:
    """Collects problems while a config directory is checked."""

    items: list[ConfigProblem] = field(default_factory=list)

    def add(self, path: Path, line: int, message: str) -> None:
        """Record one problem."""
        self.items.append(ConfigProblem(path, line, message))

    def raise_if_any(self) -> None:
        """Raise :class:`ConfigError` with everything found so far."""
        if self.items:
            raise ConfigError(self.items)


class LineDict(dict[Any, Any]):
    """A YAML mapping that knows its own line and the line of each key (where an editor shows it)."""

    line: int = 0
    lines: dict[Any, int]
    duplicates: list[tuple[Any, int]]
    """Keys given twice, with the line of the later one (YAML would silently keep only it)."""

    def line_of(self, key: Any) -> int:
        """The line of ``key``, or of the mapping itself when the key is absent."""
        return self.lines.get(key, self.line) if hasattr(self, "lines") else self.line


class LineList(list[Any]):
    """A YAML sequence that knows its own line and the line of each item."""

    line: int = 0
    lines: list[int]

    def line_of(self, index: int) -> int:
        """The line of item ``index``."""
        return self.lines[index] if 0 <= index < len(getattr(self, "lines", ())) else self.line


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader whose mappings and lists carry line numbers."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Any:
    data = LineDict()
    data.line = node.start_mark.line + 1
    yield data
    data.update(loader.construct_mapping(node))
    data.lines, data.duplicates = {}, []
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in data.lines:
            data.duplicates.append((key, key_node.start_mark.line + 1))
        else:
            data.lines[key] = key_node.start_mark.line + 1


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> Any:
    data = LineList()
    data.line = node.start_mark.line + 1
    yield data
    data.extend(loader.construct_sequence(node))
    data.lines = [item.start_mark.line + 1 for item in node.value]


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
# part-clock: dates stay text (calendar.yaml's day lists), so a day that does not exist
# (2026-02-30) is reported at its line by the checks instead of escaping the parser as ValueError.
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def read_yaml(path: Path, problems: Problems) -> LineDict | None:
    """The top-level mapping of ``path``, or None (with the problem recorded) when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.add(path, 0, "file is missing")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(path, 0, f"cannot read: {exc}")
        return None
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problems.add(path, line, f"YAML syntax error: {exc.problem or exc.context}")
        return None
    except yaml.YAMLError as exc:
        problems.add(path, 0, f"YAML error: {exc}")
        return None
    if not isinstance(data, LineDict):
        problems.add(path, 1, "expected a mapping at the top level")
        return None
    _report_duplicates(data, path, problems)
    return data


def _report_duplicates(node: Any, path: Path, problems: Problems) -> None:
    """Every key given twice in one mapping, anywhere in the file."""
    if isinstance(node, LineDict):
        for key, line in getattr(node, "duplicates", ()):
            problems.add(path, line, f"{key!r} is given twice here; only one may be")
        children: Any = node.values()
    elif isinstance(node, LineList):
        children = node
    else:
        return
    for child in children:
        _report_duplicates(child, path, problems)
