"""Watches the city's IMAP mailbox: a polling adapter, like X and Telegram polling.

- IDLE when the server offers it, re-issued every ``IMAP_IDLE_SECONDS`` (RFC 2177 asks
  clients to re-issue within 29 minutes); polling every ``IMAP_POLL_SECONDS`` otherwise.
- Position is (UIDVALIDITY, last UID), kept through the context's cursor callbacks (table
  ``channel_cursors``). A new UIDVALIDITY means the UIDs we remember are meaningless: the
  folder's unseen mail is scanned again, and the Message-ID dedupe on accept keeps that from
  doubling anything.
- Messages are fetched with ``BODY.PEEK[]`` (fetching does not set \\Seen); a message is
  flagged \\Seen (or moved) only after it is durably accepted, and the last UID advances
  only after that. A crash anywhere in between re-fetches, and the dedupe makes it harmless.
- A mail that cannot be parsed (or that the store refuses as sent) is kept through
  ``keep_unreadable`` (raw bytes stored under DATA_DIR/mail), and flagged like any other, so it
  never blocks the mails behind it nor comes back in a loop.
- Connection errors back off exponentially (1 s … 5 min); state and the last error go to the
  context's health report (table ``poller_state``) for the operators.

imapclient is blocking, so the poller runs in a thread of its own and calls the context's
async callbacks on the gateway's loop with ``run_coroutine_threadsafe`` (:class:`ThreadContext`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
from collections.abc import Awaitable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import structlog
from imapclient import IMAPClient

from channels.base import AcceptResult, PollContext, PollerHealth
from channels.email.ingest import ingest_mail
from channels.storage import store_bytes
from config.settings import Settings
from normalizer.envelope import ComplaintEnvelope

log = structlog.get_logger(__name__)

FETCH_CHUNK = 20
SEEN = b"\\Seen"
PROVIDER = "imap"
MAX_KEY = 200  # channel_cursors.id
T = TypeVar("T")


def mailbox_key(settings: Settings) -> str:
    """The cursor and health id of the watched folder: ``imap:<user>@<host>/<folder>`` (hashed if long)."""
    key = f"{PROVIDER}:{settings.imap_user}@{settings.imap_host}/{settings.imap_folder}"
    if len(key) <= MAX_KEY:
        return key
    return f"{PROVIDER}:" + hashlib.sha256(key.encode()).hexdigest()


def parse_position(value: str | None) -> tuple[int, int] | None:
    """``"<uidvalidity>:<last uid>"`` as numbers; None for no or a malformed cursor (start over)."""
    uidvalidity, _, last_uid = (value or "").partition(":")
    if not (uidvalidity.isdigit() and last_uid.isdigit()):
        return None
    return int(uidvalidity), int(last_uid)


class ThreadContext:
    """A :class:`PollContext` for a blocking thread: each call runs the async callback on ``loop``."""

    def __init__(self, ctx: PollContext, loop: asyncio.AbstractEventLoop, timeout: float = 60.0) -> None:
        self.ctx = ctx
        self.loop = loop
        self.timeout = timeout

    def _call(self, awaitable: Awaitable[T]) -> T:
        async def wait() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wait(), self.loop).result(self.timeout)

    def accept(self, envelopes: Sequence[ComplaintEnvelope]) -> list[AcceptResult]:
        """Durably accept ``envelopes``; one result per envelope."""
        return self._call(self.ctx.accept(envelopes))

    def keep_unreadable(self, *, external_id: str, reason: str, raw_ref: str) -> None:
        """Keep a mail that cannot become an envelope."""
        self._call(
            self.ctx.keep_unreadable(
                channel="email", provider=PROVIDER, external_id=external_id, reason=reason, raw_ref=raw_ref
            )
        )

    def cursor_get(self, key: str) -> str | None:
        """The stored position."""
        return self._call(self.ctx.cursor_get(key))

    def cursor_set(self, key: str, value: str) -> None:
        """Store the position."""
        self._call(self.ctx.cursor_set(key, value))

    def report(self, health: PollerHealth) -> None:
        """Record the poller's health; reporting never stops the poller."""
        try:
            self._call(self.ctx.report(health))
        except Exception as exc:  # noqa: BLE001 - reporting must not kill the poller
            log.error("imap_state_not_saved", error=f"{type(exc).__name__}: {exc}"[:300])


class ImapPoller:
    """One mailbox folder, watched until ``stopping`` is set (blocking: run it in a thread)."""

    def __init__(self, settings: Settings, ctx: ThreadContext, stopping: threading.Event | None = None) -> None:
        self.settings = settings
        self.ctx = ctx
        self.folder = settings.imap_folder
        self.key = mailbox_key(settings)
        self.stopping = stopping or threading.Event()
        self.polls = 0
        """Completed sync passes."""

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
                    self._record(status="connected")
                    backoff = 1.0
                    idle = b"IDLE" in client.capabilities()
                    while not self.stopping.is_set():
                        self.sync(client)
                        self._wait_for_news(client, idle)
            except Exception as exc:  # noqa: BLE001 - the poller must outlive any server trouble
                message = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("imap_error", mailbox=self.key, error=message, retry_in=backoff)
                self._record(status="error", error=message)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 300.0)
        self._record(status="stopped")

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
        stored = parse_position(self.ctx.cursor_get(self.key))
        if stored is None or stored[0] != uidvalidity:
            if stored is not None:
                log.warning("imap_uidvalidity_changed", mailbox=self.key, old=stored[0], new=uidvalidity)
            # First start, or the server renumbered: only unseen mail is news (we flag what
            # we accept), and the Message-ID dedupe absorbs anything seen twice.
            uids = sorted(client.search(["UNSEEN"]))
            self._save_position(uidvalidity, 0)
            last_uid = 0
        else:
            last_uid = stored[1]
            uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
        new = 0
        for start in range(0, len(uids), FETCH_CHUNK):
            if self.stopping.is_set():
                break
            chunk = uids[start : start + FETCH_CHUNK]
            fresh, last_uid = self._import(client, uidvalidity, last_uid, chunk)
            new += fresh
        self.polls += 1
        self._record(status="connected", polled=True)
        return new

    def _import(self, client: IMAPClient, uidvalidity: int, last_uid: int, uids: list[int]) -> tuple[int, int]:
        """Accept one chunk, flag it, move the position; returns (new mails, last UID)."""
        fetched = client.fetch(uids, ["BODY.PEEK[]", "RFC822.SIZE"])
        envelopes: list[ComplaintEnvelope] = []
        raw_refs: list[str] = []
        done: list[int] = []
        for uid in uids:
            data = fetched.get(uid)
            if data is None:  # expunged meanwhile
                done.append(uid)
                continue
            raw = data.get(b"BODY[]") or b""
            if len(raw) > self.settings.smtp_intake_max_bytes:
                # Keep the head (headers and the start) for the operator; the rest stays on the server.
                self._keep_head(uid, raw[: 64 * 1024], f"mail of {len(raw)} bytes is over the limit")
                done.append(uid)
                continue
            try:
                result = ingest_mail(self.settings, raw, provider=PROVIDER, mailbox=self.settings.imap_user or "")
            except Exception as exc:  # noqa: BLE001 - one mail must never stop the mails behind it
                log.error("imap_mail_failed", mailbox=self.key, uid=uid, error=type(exc).__name__)
                self._keep_head(uid, raw[: 64 * 1024], f"could not be processed: {type(exc).__name__}")
                done.append(uid)
                continue
            if result.envelope is None:
                self.ctx.keep_unreadable(
                    external_id=result.external_id, reason=result.unreadable or "unreadable", raw_ref=result.raw_sha256
                )
            else:
                envelopes.append(result.envelope)
                raw_refs.append(result.raw_sha256)
            done.append(uid)
        fresh = 0
        if envelopes:
            outcomes = self.ctx.accept(envelopes)  # durable before anything is flagged
            for envelope, raw_ref, outcome in zip(envelopes, raw_refs, outcomes, strict=True):
                if outcome.refused:
                    self.ctx.keep_unreadable(external_id=envelope.external_id, reason=outcome.refused, raw_ref=raw_ref)
                elif not outcome.duplicate:
                    fresh += 1
        self._mark_accepted(client, done)
        if done and max(done) > last_uid:
            last_uid = max(done)
            self._save_position(uidvalidity, last_uid)
        log.info("imap_imported", mailbox=self.key, fetched=len(uids), new=fresh)
        return fresh, last_uid

    def _keep_head(self, uid: int, head: bytes, reason: str) -> None:
        sha = store_bytes(self.settings.data_dir / "mail", head)
        self.ctx.keep_unreadable(external_id=f"imap-oversize:{self.key}:{uid}:{sha[:16]}", reason=reason, raw_ref=sha)

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

    def _save_position(self, uidvalidity: int, last_uid: int) -> None:
        self.ctx.cursor_set(self.key, f"{uidvalidity}:{last_uid}")

    def _record(self, *, status: str, error: str | None = None, polled: bool = False) -> None:
        self.ctx.report(PollerHealth(poller=self.key, provider=PROVIDER, status=status, error=error, polled=polled))


def _copy_delete(client: IMAPClient, uids: list[int], target: str) -> None:
    client.copy(uids, target)
    client.delete_messages(uids)
    if b"UIDPLUS" in client.capabilities():
        client.uid_expunge(uids)
    else:
        client.expunge()


class ImapMailbox:
    """The polling adapter of the city's mailbox (``IMAP_*`` settings): runs :class:`ImapPoller`."""

    name = PROVIDER
    channel = "email"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.key = mailbox_key(settings)

    def polling_enabled(self) -> bool:
        """Always: the registry builds this adapter only when IMAP_HOST, IMAP_USER and IMAP_PASSWORD are set."""
        return True

    def describe(self) -> str:
        """What is watched, for the operator (no password)."""
        s = self.settings
        return f"{s.imap_user}@{s.imap_host} folder {s.imap_folder}"

    async def poll(self, ctx: PollContext) -> None:
        """Watch the mailbox in a thread of its own until ``ctx.stopping`` is set."""
        loop = asyncio.get_running_loop()
        stopping = threading.Event()
        poller = ImapPoller(self.settings, ThreadContext(ctx, loop), stopping)

        async def relay_stop() -> None:
            await ctx.stopping.wait()
            stopping.set()

        relay = loop.create_task(relay_stop())
        # Its own thread: the poller blocks for as long as it runs, the loop's default pool must not lose one.
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap-poller")
        try:
            await loop.run_in_executor(executor, poller.run)
        finally:
            stopping.set()
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
            executor.shutdown(wait=False)
