"""Watches the city's IMAP mailbox and accepts every new mail as a complaint (or a follow-up).

- IDLE when the server offers it, re-issued every ``IMAP_IDLE_SECONDS`` (RFC 2177 asks
  clients to re-issue within 29 minutes); polling every ``IMAP_POLL_SECONDS`` otherwise.
- Position is (UIDVALIDITY, last UID) in the database. A new UIDVALIDITY means the UIDs
  we remember are meaningless: the folder's unseen mail is scanned again, and the
  Message-ID dedupe on accept keeps that from doubling anything.
- Messages are fetched with ``BODY.PEEK[]`` (fetching does not set \\Seen); a message is
  flagged \\Seen (or moved) only after it is durably accepted, and the last UID advances
  only after that. A crash anywhere in between re-fetches, and the dedupe makes it harmless.
- A mail that cannot be parsed is kept (raw bytes stored), reported as unreadable, and
  flagged like any other, so it never blocks the mails behind it nor comes back in a loop.
- Connection errors back off exponentially (1 s … 5 min); state and the last error are
  written to ``mailbox_state`` for the operators.

imapclient is blocking, so the poller runs in its own thread and hands envelopes to the
gateway's asyncio acceptor with ``run_coroutine_threadsafe``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from imapclient import IMAPClient

from channels.email.ingest import Ingested, ingest_mail
from complaints import store
from complaints.models import MailboxState
from config.settings import Settings
from normalizer.envelope import ComplaintEnvelope, utcnow

log = structlog.get_logger(__name__)

FETCH_CHUNK = 20
SEEN = b"\\Seen"


class ImapPoller(threading.Thread):
    """One mailbox folder, watched until :meth:`stop`."""

    def __init__(
        self,
        settings: Settings,
        runtime: Any,
        accept: Callable[[list[ComplaintEnvelope]], list[store.AcceptOutcome]],
    ) -> None:
        super().__init__(name="imap-poller", daemon=True)
        self.settings = settings
        self.runtime = runtime
        self.accept = accept
        self.folder = settings.imap_folder
        self.state_id = f"{settings.imap_user}@{settings.imap_host}/{self.folder}"
        self.stopping = threading.Event()
        self.polls = 0
        """Completed sync passes (tests wait on it)."""

    # -- lifecycle ---------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the poller to finish its current step and disconnect."""
        self.stopping.set()

    def run(self) -> None:
        """Connect, sync, wait for news (IDLE or sleep), repeat; back off on errors."""
        backoff = 1.0
        while not self.stopping.is_set():
            try:
                with self._connect() as client:
                    self._record(status="connected", error=None)
                    backoff = 1.0
                    idle = b"IDLE" in client.capabilities()
                    while not self.stopping.is_set():
                        self.sync(client)
                        self._wait_for_news(client, idle)
            except Exception as exc:  # noqa: BLE001 - the poller must outlive any server trouble
                message = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("imap_error", mailbox=self.state_id, error=message, retry_in=backoff)
                self._record(status="error", error=message)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 300.0)
        self._record(status="stopped", error=None)

    def _connect(self) -> IMAPClient:
        s = self.settings
        port = s.imap_port or (993 if s.imap_ssl else 143)
        client = IMAPClient(s.imap_host, port=port, ssl=s.imap_ssl, timeout=30)
        client.login(s.imap_user, s.imap_password)
        return client

    def _wait_for_news(self, client: IMAPClient, idle: bool) -> None:
        if not idle:
            self.stopping.wait(self.settings.imap_poll_seconds)
            return
        client.idle()
        try:
            deadline = time.monotonic() + self.settings.imap_idle_seconds
            # Short checks so a stop request is honoured within a second.
            while not self.stopping.is_set() and time.monotonic() < deadline:
                if client.idle_check(timeout=1):
                    break
        finally:
            client.idle_done()

    # -- one pass ----------------------------------------------------------------------
    def sync(self, client: IMAPClient) -> int:
        """Import every message not yet accepted; returns how many were new."""
        selected = client.select_folder(self.folder)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        state = self._state()
        if state.uidvalidity != uidvalidity:
            if state.uidvalidity is not None:
                log.warning("imap_uidvalidity_changed", mailbox=self.state_id, old=state.uidvalidity, new=uidvalidity)
            # First start, or the server renumbered: only unseen mail is news (we flag what
            # we accept), and the Message-ID dedupe absorbs anything seen twice.
            uids = sorted(client.search(["UNSEEN"]))
            self._save_position(uidvalidity, 0)
            last_uid = 0
        else:
            last_uid = state.last_uid
            uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
        new = 0
        for start in range(0, len(uids), FETCH_CHUNK):
            if self.stopping.is_set():
                break
            chunk = uids[start : start + FETCH_CHUNK]
            new += self._import(client, uidvalidity, chunk)
        self.polls += 1
        self._record(status="connected", error=None, polled=True)
        return new

    def _import(self, client: IMAPClient, uidvalidity: int, uids: list[int]) -> int:
        fetched = client.fetch(uids, ["BODY.PEEK[]", "RFC822.SIZE"])
        envelopes: list[ComplaintEnvelope] = []
        done: list[int] = []
        for uid in uids:
            data = fetched.get(uid)
            if data is None:  # expunged meanwhile
                done.append(uid)
                continue
            raw = data.get(b"BODY[]") or b""
            if len(raw) > self.settings.smtp_intake_max_bytes:
                # Keep the head (headers and the start) for the operator; the rest stays on the server.
                self._keep_unreadable(uid, raw[: 64 * 1024], f"mail of {len(raw)} bytes is over the limit")
                done.append(uid)
                continue
            try:
                result: Ingested = ingest_mail(
                    self.settings, raw, provider="imap", mailbox=self.settings.imap_user or ""
                )
            except Exception as exc:  # noqa: BLE001 - one mail must never stop the mails behind it
                log.error("imap_mail_failed", mailbox=self.state_id, uid=uid, error=type(exc).__name__)
                self._keep_unreadable(uid, raw[: 64 * 1024], f"could not be processed: {type(exc).__name__}")
                done.append(uid)
                continue
            if result.envelope is None:
                store.keep_unreadable(
                    self.runtime.sf,
                    channel="email",
                    provider="imap",
                    external_id=result.external_id,
                    reason=result.unreadable or "unreadable",
                    raw_ref=result.raw_sha256,
                )
            else:
                envelopes.append(result.envelope)
            done.append(uid)
        if envelopes:
            outcomes = self.accept(envelopes)  # durable before anything is flagged
            fresh = sum(1 for o in outcomes if not o.duplicate)
        else:
            fresh = 0
        self._mark_accepted(client, done)
        self._save_position(uidvalidity, max(done) if done else None)
        log.info("imap_imported", mailbox=self.state_id, fetched=len(uids), new=fresh)
        return fresh

    def _keep_unreadable(self, uid: int, head: bytes, reason: str) -> None:
        from channels.storage import store_bytes

        sha = store_bytes(self.settings.data_dir / "mail", head)
        store.keep_unreadable(
            self.runtime.sf,
            channel="email",
            provider="imap",
            external_id=f"imap-oversize:{self.state_id}:{uid}:{sha[:16]}",
            reason=reason,
            raw_ref=sha,
        )

    def _mark_accepted(self, client: IMAPClient, uids: list[int]) -> None:
        if not uids:
            return
        target = self.settings.imap_processed_folder
        if target:
            if b"MOVE" in client.capabilities():
                client.move(uids, target)
            else:
                _copy_delete(client, uids, target)
        else:
            client.add_flags(uids, [SEEN])

    # -- state in the database -----------------------------------------------------------
    def _state(self) -> MailboxState:
        with self.runtime.sf.begin() as session:
            state = session.get(MailboxState, self.state_id)
            if state is None:
                state = MailboxState(
                    id=self.state_id, uidvalidity=None, last_uid=0, status="starting", updated_at=utcnow()
                )
                session.add(state)
            session.flush()
            session.expunge(state)
            return state

    def _save_position(self, uidvalidity: int, last_uid: int | None) -> None:
        with self.runtime.sf.begin() as session:
            state = session.get(MailboxState, self.state_id)
            assert state is not None
            state.uidvalidity = uidvalidity
            if last_uid is not None and (last_uid == 0 or last_uid > state.last_uid):
                state.last_uid = last_uid
            state.updated_at = utcnow()

    def _record(self, *, status: str, error: str | None, polled: bool = False) -> None:
        try:
            with self.runtime.sf.begin() as session:
                state = session.get(MailboxState, self.state_id)
                if state is None:
                    state = MailboxState(id=self.state_id, last_uid=0, updated_at=utcnow())
                    session.add(state)
                now = utcnow()
                state.status = status
                state.updated_at = now
                if polled:
                    state.last_poll_at = now
                if error is not None:
                    state.last_error = error
                    state.last_error_at = now
        except Exception as exc:  # noqa: BLE001 - reporting must not kill the poller
            log.error("imap_state_not_saved", error=f"{type(exc).__name__}: {exc}")


def _copy_delete(client: IMAPClient, uids: list[int], target: str) -> None:
    client.copy(uids, target)
    client.delete_messages(uids)
    if b"UIDPLUS" in client.capabilities():
        client.uid_expunge(uids)
    else:
        client.expunge()


def acceptor_bridge(
    acceptor: Any, loop: asyncio.AbstractEventLoop, timeout: float = 60.0
) -> Callable[[list[ComplaintEnvelope]], list[store.AcceptOutcome]]:
    """Let a thread use the gateway's group-commit acceptor running on ``loop``."""

    def accept(envelopes: list[ComplaintEnvelope]) -> list[store.AcceptOutcome]:
        return asyncio.run_coroutine_threadsafe(acceptor.accept(envelopes), loop).result(timeout)

    return accept
