"""Fixtures shared by the e-mail end-to-end tests: the city's real IMAP mailbox and its outbound SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dovecot import DovecotHarness, running_dovecot
from tests.support.smtp_sink import SmtpSink


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """The city's outbound SMTP server, capturing what we send."""
    with SmtpSink() as server:
        yield server


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[DovecotHarness]:
    """The city's IMAP mailbox on a real Dovecot."""
    with running_dovecot(tmp_path / "dovecot") as dovecot:
        yield dovecot
