"""Log records at ERROR, collected while a test runs: an unhandled exception, or a handler reporting its own bug.

aiohttp logs an exception a handler let escape at ERROR (``aiohttp.server``: "Error handling
request"); our handlers log theirs at ERROR too (``webhook_unreadable``...). Add the collector after
the system under test configured logging (``config.logging`` replaces the root logger's handlers).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


class ErrorRecords(logging.Handler):
    """Keeps every log record at ERROR or above (unhandled exceptions, our own bug reports)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def error_records() -> Iterator[ErrorRecords]:
    """Collect ERROR records on the root logger while the block runs (add it after the system configured logging)."""
    handler = ErrorRecords()
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)


def no_errors(errors: ErrorRecords) -> None:
    """Nothing logged at ERROR: no unhandled exception, no handler reporting a bug of ours."""
    assert not errors.records, [f"{r.name}: {r.getMessage()[:300]}" for r in errors.records]
