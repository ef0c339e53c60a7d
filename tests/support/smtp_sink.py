"""A real SMTP server on loopback that captures outbound mail (aiosmtpd, own thread).

    with SmtpSink(require_auth=("gateway", "s3cret")) as sink:
        ...  # point SMTP_HOST/SMTP_PORT/SMTP_USER/SMTP_PASSWORD at sink.host/sink.port
        mail = sink.wait_for(lambda m: m.message["To"] == "warga@example.org")
        assert mail.message["Subject"] == "..."

* Every accepted message becomes a :class:`CapturedMail` in :attr:`SmtpSink.messages`
  (envelope sender and recipients, the exact DATA bytes, a parsed
  ``email.message.EmailMessage`` with ``policy.default``, the AUTH login if any).
* ``require_auth=(user, password)``: AUTH PLAIN and LOGIN are offered over plain TCP
  (``auth_require_tls=False``) and required: MAIL FROM without AUTH is answered
  ``530 5.7.0 Authentication required``; wrong credentials ``535 5.7.8 Authentication
  credentials invalid``.  Without ``require_auth`` AUTH is not offered at all.
* ``fail_next(451, "...")`` answers the next DATA (of any session) with that reply instead
  of accepting it (smtplib raises ``SMTPDataError``); calls queue up, ``count=`` repeats.
  Refused messages are kept in :attr:`SmtpSink.refused`, not in ``messages``.
* ``hang_after_data(count=1)`` accepts the next DATA (the mail is in :attr:`messages`) and
  then never answers it until the sink stops: the sender times out not knowing the outcome.
* ``starttls=True`` offers STARTTLS with a throw-away self-signed certificate (needs the
  ``openssl`` CLI); off by default.  ``SMTPUTF8`` and ``8BITMIME`` are offered.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

__all__ = ["CapturedMail", "SmtpSink"]

_HOST = "127.0.0.1"


@dataclass
class CapturedMail:
    """One message the sink accepted (or refused, see :attr:`SmtpSink.refused`).

    ``mail_from``/``rcpt_tos``: the SMTP envelope (not the headers).  ``raw``: the DATA
    bytes exactly as received (dot-unstuffed, CRLF line ends).  ``message``: ``raw``
    parsed with ``email.policy.default`` (``message["Subject"]`` is decoded text,
    ``message.get_body(("plain",)).get_content()`` the text part).  ``auth_user``: the
    AUTH login used (None without AUTH).  ``reply``: what the sink answered to DATA.
    """

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    auth_user: str | None = None
    peer: tuple | None = None
    mail_options: list[str] = field(default_factory=list)
    rcpt_options: list[str] = field(default_factory=list)
    reply: str = "250 Message accepted for delivery"
    received_at: float = 0.0

    @property
    def subject(self) -> str:
        """The decoded Subject header ('' if none)."""
        return str(self.message.get("Subject", ""))

    def text(self) -> str:
        """The text/plain body (decoded), or '' when there is none."""
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


class _Handler:
    def __init__(self, sink: SmtpSink, auth_required: bool) -> None:
        self.sink = sink
        self.auth_required = auth_required

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:  # noqa: N802
        # AUTH enforcement lives here rather than in aiosmtpd's auth_required=True, which
        # emits a UserWarning + log warning for every connection when TLS is not required.
        if self.auth_required and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        raw = envelope.original_content if envelope.original_content is not None else envelope.content
        if isinstance(raw, str):  # only with decode_data=True, which we do not use
            raw = raw.encode("utf-8", "surrogateescape")
        auth_user = None
        auth_data = getattr(session, "auth_data", None)
        if isinstance(auth_data, LoginPassword):
            auth_user = auth_data.login.decode("utf-8", "replace")
        mail = CapturedMail(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            raw=bytes(raw),
            message=email.message_from_bytes(bytes(raw), policy=email.policy.default),  # type: ignore[arg-type]
            auth_user=auth_user,
            peer=session.peer,
            mail_options=list(envelope.mail_options),
            rcpt_options=list(envelope.rcpt_options),
            received_at=time.time(),
        )
        reply = self.sink._record(mail)
        if self.sink._take_hang():
            while not self.sink._released.is_set():
                await asyncio.sleep(0.05)
        return reply


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user
            and auth_data.password == self.password
        ):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((_HOST, 0))
        return s.getsockname()[1]


def _self_signed_context(workdir: Path) -> ssl.SSLContext:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("starttls=True needs the openssl CLI: apt-get install -y openssl")
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


class SmtpSink:
    """Loopback SMTP server capturing mail; see the module docstring.

    ``port=0`` picks a free port.  Attributes after :meth:`start`: ``host``
    (``127.0.0.1``), ``port``, ``messages`` (accepted :class:`CapturedMail`, oldest first),
    ``refused`` (messages answered with a :meth:`fail_next` error), ``cert_path`` (PEM of
    the self-signed certificate when ``starttls=True``).
    """

    def __init__(
        self,
        port: int = 0,
        require_auth: tuple[str, str] | None = None,
        *,
        starttls: bool = False,
        require_starttls: bool = False,
    ) -> None:
        self.host = _HOST
        self.port = port
        self.require_auth = require_auth
        self.starttls = starttls or require_starttls
        self.require_starttls = require_starttls
        self.messages: list[CapturedMail] = []
        self.refused: list[CapturedMail] = []
        self.cert_path: Path | None = None
        self._failures: deque[tuple[int, str]] = deque()
        self._hangs = 0
        self._released = threading.Event()
        self._consumed: set[int] = set()
        self._cond = threading.Condition()
        self._controller: Controller | None = None
        self._tmp: Path | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SmtpSink:
        """Start the server thread; returns once it answers on its port."""
        if self._controller is not None:
            raise RuntimeError("SmtpSink already started")
        kwargs: dict = {"enable_SMTPUTF8": True, "decode_data": False}
        if self.require_auth is not None:
            kwargs.update(authenticator=_Authenticator(*self.require_auth), auth_require_tls=False)
        if self.starttls:
            self._tmp = Path(tempfile.mkdtemp(prefix="smtp-sink-"))
            kwargs.update(tls_context=_self_signed_context(self._tmp), require_starttls=self.require_starttls)
            self.cert_path = self._tmp / "cert.pem"
        last: BaseException | None = None
        for _attempt in range(5):
            port = self.port or _free_port()
            controller = Controller(
                _Handler(self, self.require_auth is not None),
                hostname=self.host,
                port=port,
                ready_timeout=10.0,
                **kwargs,
            )
            try:
                controller.start()
            except (OSError, RuntimeError, TimeoutError) as exc:  # port raced away
                last = exc
                with contextlib.suppress(Exception):
                    controller.stop()
                if self.port:
                    break
                continue
            self._controller = controller
            self.port = port
            return self
        raise RuntimeError(f"SMTP sink could not start on {self.host}:{self.port}: {last!r}")

    def stop(self) -> None:
        """Stop the server thread (idempotent)."""
        self._released.set()
        controller, self._controller = self._controller, None
        if controller is not None:
            with contextlib.suppress(Exception):
                controller.stop()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ behaviour

    def sender_settings(self, mail_from: str = "lapor@bogorkota.go.id") -> dict[str, object]:
        """The gateway's outbound mail settings for this sink: plain SMTP on loopback, no STARTTLS."""
        return {"smtp_host": self.host, "smtp_port": self.port, "smtp_starttls": False, "mail_from": mail_from}

    def fail_next(self, code: int, text: str = "Try again later", *, count: int = 1) -> None:
        """Answer the next ``count`` DATA commands with ``<code> <text>`` instead of 250
        (e.g. ``451`` temporary -> the sender should retry; ``550`` permanent).  Queued
        after earlier fail_next() calls."""
        if not 400 <= code <= 599:
            raise ValueError("fail_next wants a 4xx or 5xx reply code")
        with self._cond:
            for _ in range(count):
                self._failures.append((code, text))

    def hang_after_data(self, *, count: int = 1) -> None:
        """Accept the next ``count`` messages but leave their DATA unanswered until :meth:`stop`."""
        with self._cond:
            self._hangs += count

    def _take_hang(self) -> bool:
        with self._cond:
            if self._hangs > 0:
                self._hangs -= 1
                return True
            return False

    def _record(self, mail: CapturedMail) -> str:
        with self._cond:
            if self._failures:
                code, text = self._failures.popleft()
                mail.reply = f"{code} {text}"
                self.refused.append(mail)
            else:
                self.messages.append(mail)
            self._cond.notify_all()
            return mail.reply

    def clear(self) -> None:
        """Forget every captured/refused message and pending failure."""
        with self._cond:
            self.messages.clear()
            self.refused.clear()
            self._consumed.clear()
            self._failures.clear()

    # ------------------------------------------------------------------ waiting

    def _take(self, predicate: Callable[[CapturedMail], bool] | None) -> CapturedMail | None:
        for idx, mail in enumerate(self.messages):
            if idx in self._consumed:
                continue
            if predicate is not None and not predicate(mail):
                continue
            self._consumed.add(idx)
            return mail
        return None

    def wait_for(self, predicate: Callable[[CapturedMail], bool] | None = None, timeout: float = 10.0) -> CapturedMail:
        """Block until an accepted message matches ``predicate`` (None = any); return the
        oldest matching one not returned by an earlier wait_for (so two calls give two
        different messages).  Raises ``TimeoutError`` listing what did arrive.  From async
        code use :meth:`wait_for_async`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                mail = self._take(predicate)
                if mail is not None:
                    return mail
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(self._timeout_text(timeout))
                self._cond.wait(min(left, 0.2))

    async def wait_for_async(
        self, predicate: Callable[[CapturedMail], bool] | None = None, timeout: float = 10.0
    ) -> CapturedMail:
        """:meth:`wait_for` that polls without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                mail = self._take(predicate)
                if mail is not None:
                    return mail
                if time.monotonic() >= deadline:
                    raise TimeoutError(self._timeout_text(timeout))
            await asyncio.sleep(0.05)

    def _timeout_text(self, timeout: float) -> str:
        seen = [(m.mail_from, m.rcpt_tos, m.subject) for m in self.messages]
        return f"no matching mail within {timeout}s; accepted so far: {seen!r}; refused: {len(self.refused)}"
