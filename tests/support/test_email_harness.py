"""Self-test of the real-Dovecot harness (tests/support/dovecot.py) and the SMTP sink."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support.dovecot import (
    INSTALL_COMMAND,
    DovecotError,
    DovecotHarness,
    dovecot_binaries_or_fail,
    running_dovecot,
)
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.timeout(60)


def _raw(subject: str, msgid: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Warga Bogor <warga@example.org>"
    msg["To"] = "lapor@bogorkota.go.id"
    msg["Subject"] = subject
    msg["Message-ID"] = msgid or f"<{time.monotonic_ns()}@example.org>"
    msg.set_content("Jalan rusak di Jl. Pajajaran.\n")
    return msg.as_bytes()


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotHarness]:
    """One Dovecot for the read-mostly tests of this module."""
    with running_dovecot(tmp_path_factory.mktemp("dovecot")) as h:
        yield h


# --------------------------------------------------------------------------- Dovecot


def test_binaries_found_or_install_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The binary is found here; a missing one raises with the exact apt-get command."""
    assert dovecot_binaries_or_fail().name == "dovecot"
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("DOVECOT_BINARY", raising=False)
    monkeypatch.setattr("tests.support.dovecot._DEFAULT_BINARY", str(tmp_path / "no-dovecot"))
    with pytest.raises(RuntimeError, match="apt-get install -y dovecot-imapd") as exc:
        dovecot_binaries_or_fail()
    assert isinstance(exc.value, DovecotError) and INSTALL_COMMAND in str(exc.value)


def test_dovecot_starts_and_accepts_login(dovecot: DovecotHarness) -> None:
    """Dovecot answers with a greeting on its loopback port and accepts the user's LOGIN."""
    assert dovecot.host == "127.0.0.1" and dovecot.port > 0
    client = dovecot.connect(login=False)
    try:
        assert client.welcome.startswith(b"* OK")
        client.login(dovecot.user, dovecot.password)
        assert client.folder_exists("INBOX")
    finally:
        client.logout()


def test_wrong_password_is_refused(dovecot: DovecotHarness) -> None:
    """LOGIN with a wrong password fails fast and does not slow down the next good LOGIN."""
    from imapclient.exceptions import LoginError

    for _ in range(2):
        client = dovecot.connect(login=False)
        started = time.monotonic()
        with pytest.raises(LoginError):
            client.login(dovecot.user, "wrong")
        assert time.monotonic() - started < 1.0
        client.shutdown()
    started = time.monotonic()
    dovecot.connect().logout()
    assert time.monotonic() - started < 1.0


def test_deliver_returns_increasing_uids(dovecot: DovecotHarness) -> None:
    """deliver() returns the APPENDUID of each message, strictly increasing, all listed."""
    uids = [dovecot.deliver(_raw(f"Aduan {i}")) for i in range(3)]
    assert uids == sorted(uids) and len(set(uids)) == 3
    assert set(uids) <= set(dovecot.list_uids())
    assert dovecot.fetch(uids[0]).startswith(b"From: Warga Bogor")
    flagged = dovecot.deliver(_raw("flagged"), flags=(b"\\Flagged",))
    assert dovecot.flags(flagged) == {b"\\Flagged"}


def test_body_peek_does_not_set_seen(dovecot: DovecotHarness) -> None:
    """Fetching BODY.PEEK[] leaves the message unseen; a plain BODY[] fetch marks it \\Seen."""
    uid = dovecot.deliver(_raw("peek"))
    client = dovecot.connect()
    try:
        client.select_folder("INBOX")
        data = client.fetch([uid], [b"BODY.PEEK[]"])
        assert b"Subject: peek" in data[uid][b"BODY[]"]
    finally:
        client.logout()
    assert b"\\Seen" not in dovecot.flags(uid)
    client = dovecot.connect()
    try:
        client.select_folder("INBOX")
        client.fetch([uid], [b"BODY[]"])
    finally:
        client.logout()
    assert dovecot.flags(uid) == {b"\\Seen"}


def test_idle_advertised_and_pushes_new_mail(dovecot: DovecotHarness) -> None:
    """IDLE (and UIDPLUS, MOVE) are advertised, and an IDLE session is told about a delivery."""
    assert dovecot.supports_idle()
    caps = dovecot.capabilities()
    assert b"UIDPLUS" in caps and b"MOVE" in caps
    client = dovecot.connect()
    try:
        client.select_folder("INBOX")
        client.idle()
        dovecot.deliver(_raw("idle push"))
        responses = client.idle_check(timeout=5)
        client.idle_done()
    finally:
        client.logout()
    assert any(r[1] == b"EXISTS" for r in responses if len(r) > 1), responses


def test_folders_and_reset_uidvalidity(dovecot: DovecotHarness) -> None:
    """reset_uidvalidity() changes UIDVALIDITY, keeps messages, order and flags, renumbers from 1."""
    dovecot.create_folder("Aduan/Selesai")
    assert "Aduan/Selesai" in dovecot.list_folders()
    first = dovecot.deliver(_raw("in folder"), folder="Aduan/Selesai", flags=(b"\\Seen",))
    assert first == 1
    doomed = dovecot.deliver(_raw("expunged"), folder="Aduan/Selesai")
    dovecot.deliver(_raw("in folder 3"), folder="Aduan/Selesai")
    client = dovecot.connect()
    try:  # leave a UID gap: 1, 3
        client.select_folder("Aduan/Selesai")
        client.delete_messages([doomed])
        client.expunge()
    finally:
        client.logout()
    inbox_before = len(dovecot.list_uids())
    for folder in ("INBOX", "Aduan/Selesai"):
        before = dovecot.uidvalidity(folder)
        subjects = [_subject(dovecot, uid, folder) for uid in dovecot.list_uids(folder)]
        after = dovecot.reset_uidvalidity(folder)
        assert after == before + 1 and dovecot.uidvalidity(folder) == after
        uids = dovecot.list_uids(folder)
        assert uids == list(range(1, len(subjects) + 1))
        assert [_subject(dovecot, uid, folder) for uid in uids] == subjects
    assert len(dovecot.list_uids()) == inbox_before
    assert dovecot.flags(1, "Aduan/Selesai") == {b"\\Seen"}
    assert dovecot.deliver(_raw("after reset"), folder="Aduan/Selesai") == 3


def test_reset_uidvalidity_without_renumber_live(dovecot: DovecotHarness) -> None:
    """renumber=False keeps UIDs, changes UIDVALIDITY live and disconnects open sessions."""
    import imaplib

    uid = dovecot.deliver(_raw("stays"))
    uids = dovecot.list_uids()
    before = dovecot.uidvalidity()
    client = dovecot.connect()
    client.select_folder("INBOX")
    client.idle()
    assert dovecot.reset_uidvalidity(renumber=False) == before + 1
    try:
        with pytest.raises((imaplib.IMAP4.abort, OSError)):
            client.idle_check(timeout=3)
            client.idle_done()
    finally:
        client.shutdown()
    assert dovecot.list_uids() == uids and uid in uids
    assert dovecot.deliver(_raw("next")) == uids[-1] + 1


def _subject(h: DovecotHarness, uid: int, folder: str) -> bytes:
    raw = h.fetch(uid, folder)
    return next(line for line in raw.splitlines() if line.startswith(b"Subject:"))


def test_two_harnesses_run_at_once_and_teardown_is_clean(tmp_path: Path) -> None:
    """Two servers run side by side on different ports; stop() leaves no dovecot process."""
    with running_dovecot(tmp_path / "a") as a, running_dovecot(tmp_path / "b") as b:
        assert a.port != b.port
        assert a.deliver(_raw("to a")) == 1
        assert b.deliver(_raw("to b")) == 1
        assert b.deliver(_raw("to b again")) == 2
        assert a.list_uids() == [1] and b.list_uids() == [1, 2]
        groups = [(a.pid, a.processes()), (b.pid, b.processes())]
        assert all(any(name == "dovecot" for _p, _s, name in procs) for _pid, procs in groups)
    for pid, _procs in groups:
        from tests.support.dovecot import _pgroup_members

        assert _pgroup_members(pid) == [], f"leftover processes in group {pid}"
    assert a.processes() == [] and b.processes() == []
    with pytest.raises(DovecotError):
        a.deliver(_raw("after stop"))


def test_restart_keeps_mail_and_kick_drops_sessions(tmp_path: Path) -> None:
    """restart() keeps port, messages and UIDVALIDITY; kick() disconnects open sessions."""
    import imaplib

    with running_dovecot(tmp_path) as h:
        uid = h.deliver(_raw("survives"))
        uidvalidity = h.uidvalidity()
        client = h.connect()
        client.select_folder("INBOX")
        h.kick()
        with pytest.raises((imaplib.IMAP4.abort, OSError)):
            client.noop()
        port = h.port
        h.restart()
        assert h.port == port and h.list_uids() == [uid] and h.uidvalidity() == uidvalidity


# --------------------------------------------------------------------------- SMTP sink


def _outbound(to: str = "warga@example.org") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Lapor Bogor <lapor@bogorkota.go.id>"
    msg["To"] = to
    msg["Subject"] = "Aduan Anda diterima — nomor BGR-2026-0001"
    msg["Message-ID"] = "<reply-1@bogorkota.go.id>"
    msg.set_content("Terima kasih, aduan Anda sudah kami terima.\n")
    return msg


def test_smtp_sink_captures_message_with_headers() -> None:
    """A message sent with smtplib is captured with envelope, raw bytes and parsed headers."""
    with SmtpSink() as sink:
        assert sink.host == "127.0.0.1" and sink.port > 0
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
            smtp.send_message(_outbound())
        mail = sink.wait_for(timeout=5)
    assert mail.mail_from == "lapor@bogorkota.go.id"
    assert mail.rcpt_tos == ["warga@example.org"]
    assert mail.message["Subject"] == "Aduan Anda diterima — nomor BGR-2026-0001"
    assert mail.message["Message-ID"] == "<reply-1@bogorkota.go.id>"
    assert "sudah kami terima" in mail.text()
    assert b"Message-ID: <reply-1@bogorkota.go.id>" in mail.raw
    assert mail.auth_user is None and sink.messages == [mail]


def test_smtp_sink_requires_auth() -> None:
    """With require_auth, an unauthenticated send gets 530, a wrong password 535, the right one works."""
    with SmtpSink(require_auth=("gateway", "s3cret")) as sink:
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
            smtp.ehlo()
            assert smtp.has_extn("auth")
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                smtp.send_message(_outbound())
            assert refused.value.smtp_code == 530
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
            with pytest.raises(smtplib.SMTPAuthenticationError) as bad:
                smtp.login("gateway", "wrong")
            assert bad.value.smtp_code == 535
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
            smtp.login("gateway", "s3cret")
            smtp.send_message(_outbound("a@example.org"))
        mail = sink.wait_for(timeout=5)
        assert mail.auth_user == "gateway" and mail.rcpt_tos == ["a@example.org"]
        assert len(sink.messages) == 1


def test_smtp_sink_fail_next_451_then_accepts() -> None:
    """fail_next(451) makes the next DATA fail with SMTPDataError 451; the retry is accepted."""
    with SmtpSink() as sink:
        sink.fail_next(451, "4.3.0 Try again later")
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
            with pytest.raises(smtplib.SMTPDataError) as exc:
                smtp.send_message(_outbound())
            assert exc.value.smtp_code == 451
            smtp.send_message(_outbound())
        sink.fail_next(550, "5.1.1 No such user")
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
            with pytest.raises(smtplib.SMTPDataError) as exc:
                smtp.send_message(_outbound("nobody@example.org"))
            assert exc.value.smtp_code == 550
        assert len(sink.messages) == 1 and len(sink.refused) == 2
        assert sink.wait_for(timeout=1).rcpt_tos == ["warga@example.org"]
        with pytest.raises(TimeoutError):
            sink.wait_for(timeout=0.2)
