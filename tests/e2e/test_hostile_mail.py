"""The malformed-mail corpus (tests/support/hostile_mail.py) through a real Dovecot and our SMTP server.

Broken MIME boundaries, unknown and wrong charsets, 8-bit and control bytes in headers, a 200 KB
header line and 20,000 header lines, 300 levels of nesting, a zip bomb, path-traversal file names.
Each mail is followed by a good one. Every hostile mail gets its defined outcome — stored with
cleaned text (NUL and lone surrogates gone, attachment names without a path), kept as unreadable
for review, or refused by our SMTP server with a 5xx text — and every good mail behind it is
answered, so none blocks the next. Nothing is written outside DATA_DIR.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from complaints.models import Complaint, InboxMessage
from tests.conftest import base_settings
from tests.e2e.test_email import IDENTITY, MAILBOX, email_settings
from tests.support.dovecot import DovecotHarness, running_dovecot
from tests.support.hostile_mail import HostileMail, corpus
from tests.support.smtp_sink import SmtpSink
from tests.support.system import SystemThread, free_port, running_system

CORPUS = corpus()


def good_mail(number: int) -> tuple[str, bytes]:
    """A well-formed complaint from its own sender (``gNN@example.org``)."""
    sender = f"g{number:02d}@example.org"
    message = EmailMessage()
    message["From"] = f"Warga Baik <{sender}>"
    message["To"] = MAILBOX
    message["Subject"] = f"Lampu jalan mati {number}"
    message["Message-ID"] = f"<good-{number}@example.org>"
    message.set_content(IDENTITY + "Isi: Lampu jalan mati di Jl. Sudirman.")
    return sender, message.as_bytes()


def check_outcomes(system: SystemThread, mails: list[HostileMail]) -> None:
    """Stored mails are complaints with clean text and attachment names without a path; kept ones are unreadable."""
    rows = system.db(lambda s: list(s.scalars(select(InboxMessage))))
    unreadable = [row for row in rows if row.state == "unreadable"]
    assert len(unreadable) == sum(mail.outcome == "kept" for mail in mails), [r.state for r in rows]
    complaints = system.db(lambda s: list(s.scalars(select(Complaint))))
    by_sender = {c.reply_address: c for c in complaints}
    for mail in mails:
        if mail.outcome != "stored" or not mail.sender:
            continue
        case = by_sender.get(mail.sender)
        assert case is not None, f"{mail.name}: not stored"
        assert "\x00" not in case.text and not any(0xD800 <= ord(ch) <= 0xDFFF for ch in case.text), mail.name
        for file in (case.attachments or {}).get("files", []):
            name = file["filename"]
            assert "/" not in name and "\\" not in name and not name.startswith("."), f"{mail.name}: {name!r}"
    assert any((c.attachments or {}).get("files") for c in complaints), "the path-traversal photos were kept"


def test_corpus_through_imap_each_mail_has_an_outcome_and_none_blocks(tmp_path: Path) -> None:
    """Into Dovecot, each hostile mail then a good one: every good one answered, every hostile one accounted for."""
    with running_dovecot(tmp_path / "dovecot") as mailbox, SmtpSink() as sink:
        with running_system(email_settings(tmp_path, mailbox, sink)) as system:
            uids, good = deliver_all(mailbox)
            for sender in good:
                sink.wait_for(lambda m, sender=sender: sender in m.rcpt_tos, timeout=60)
            system.wait_for(lambda s: len(list(s.scalars(select(InboxMessage)))) == 2 * len(CORPUS), timeout=30)
            check_outcomes(system, CORPUS)
            for uid in uids:
                assert b"\\Seen" in mailbox.flags(uid), "every mail is marked done, none left to block the poller"


def deliver_all(mailbox: DovecotHarness) -> tuple[list[int], list[str]]:
    """Each hostile mail, then a good one; returns the hostile mails' UIDs and the good senders."""
    uids, good = [], []
    for number, mail in enumerate(CORPUS, start=1):
        uids.append(mailbox.deliver(mail.raw))
        sender, raw = good_mail(number)
        mailbox.deliver(raw)
        good.append(sender)
    return uids, good


def test_corpus_through_our_smtp_server_each_mail_has_an_outcome_and_none_blocks(tmp_path: Path) -> None:
    """To our SMTP server: 250 or a 5xx with its reason, and the good mail after it, in the same session, gets 250."""
    port = free_port()
    with SmtpSink() as sink:
        settings = base_settings(
            tmp_path,
            **sink.sender_settings(MAILBOX),
            smtp_intake_port=port,
            smtp_intake_domains="bogorkota.go.id",
        )
        with running_system(settings) as system:
            answers: dict[str, tuple[int, str]] = {}
            good = []
            for number, mail in enumerate(CORPUS, start=1):
                # The good mail follows in the same session: a refusal leaves the session usable.
                with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                    client.ehlo("mx.example.org")
                    answers[mail.name] = send_raw(client, mail.raw)
                    sender, raw = good_mail(number)
                    code, text = send_raw(client, raw)
                assert code == 250, f"the good mail after {mail.name!r} got {code} {text}"
                good.append(sender)
            for sender in good:
                sink.wait_for(lambda m, sender=sender: sender in m.rcpt_tos, timeout=60)
            for mail in CORPUS:
                code, text = answers[mail.name]
                expected = mail.smtp_outcome or mail.outcome
                if expected.startswith("smtp "):
                    assert code == int(expected.split()[1]) and text, f"{mail.name}: {code} {text}"
                else:
                    assert code == 250, f"{mail.name}: {code} {text}"
            refused = sum((m.smtp_outcome or m.outcome).startswith("smtp ") for m in CORPUS)
            stored = [m for m in CORPUS if not (m.smtp_outcome or m.outcome).startswith("smtp ")]
            system.wait_for(
                lambda s: len(list(s.scalars(select(InboxMessage)))) == 2 * len(CORPUS) - refused, timeout=30
            )
            check_outcomes(system, stored)


def send_raw(client: smtplib.SMTP, raw: bytes) -> tuple[int, str]:
    """Send ``raw`` to our mailbox in an open session; (reply code, reply text) of DATA, or of what refused it."""
    try:
        client.sendmail("sender@example.org", [MAILBOX], raw)
    except smtplib.SMTPResponseException as exc:
        client.rset()  # what a sending server does before its next mail in the same session
        return exc.smtp_code, exc.smtp_error.decode("utf-8", "replace")
    return 250, "OK"
