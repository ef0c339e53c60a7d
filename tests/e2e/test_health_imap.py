"""A real Dovecot refusing our IMAP password: the health page says so in words, the mailbox masked."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from complaints.models import PollerState
from tests.e2e.test_email import email_settings
from tests.support.console_session import OperatorBrowser, add_operator
from tests.support.dovecot import DovecotHarness
from tests.support.smtp_sink import SmtpSink
from tests.support.system import running_system

EMAIL, PASSWORD = "ops@example.org", "correct horse battery"


def test_wrong_imap_password_shows_on_the_health_page(tmp_path: Path, mailbox: DovecotHarness, sink: SmtpSink) -> None:
    """The poller cannot log in: the operator reads "IMAP poller cannot connect: authentication failed"
    at the top of /ops/health, and the mailbox address appears nowhere on the page."""
    settings = email_settings(tmp_path, mailbox, sink, imap_password="not-the-password")
    with running_system(settings) as system:
        failing = select(PollerState).where(PollerState.provider == "imap", PollerState.status == "error")
        system.wait_for(lambda s: s.scalar(failing), timeout=20)
        assert system.system is not None
        add_operator(system.system.runtime, EMAIL, PASSWORD)
        browser = OperatorBrowser(system.url).log_in(EMAIL, PASSWORD)
        page = browser.get("/ops/health?lang=en")
    problems = page[page.index("Problems") : page.index("Queues")]
    assert "IMAP poller cannot connect: authentication failed (wrong user or password)" in problems
    assert mailbox.user not in page  # the poller is named after its mailbox: masked
