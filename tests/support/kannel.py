"""Run a REAL Kannel (bearerbox + smsbox + fakesmsc) on loopback for end-to-end SMS tests.

Topology (all on 127.0.0.1, every port picked free at start)::

    fakesmsc injector(s) --TCP--> [smsc "fake-mo", port P_mo] \\
                                                              bearerbox <--> smsbox --get-url--> our webhook
    fakesmsc MT receiver <-TCP--  [smsc "fake-mt", port P_mt] /                 ^
                                                                                |
                                     our gateway --HTTP /cgi-bin/sendsms--------+  (and DLRs -> dlr-url)

Why two fake SMSC groups: Kannel's ``smsc = fake`` accepts ONE client connection at a
time (it serves a client until EOF, then accepts the next one).  So one long-lived
``fakesmsc`` stays connected to ``fake-mt`` and captures every MT the gateway sends,
while each :meth:`KannelHarness.inject` spawns a short-lived ``fakesmsc -m 1`` against
``fake-mo`` (bearerbox accepts such connections one after another).  ``fake-mo`` has
``allowed-smsc-id`` set to an id nobody uses, so MT traffic is never routed to an
injector.

How MT capture works: the receiver runs as ``fakesmsc -m 0 -v 0 <dummy msg>`` (``-m 0``
= send nothing); for every MT bearerbox writes a line ``"<from> <to> <type> <payload>"``
to it and fakesmsc logs ``DEBUG: Got message N: <line>`` on stderr, which a reader
thread parses.  ``<type>`` is ``text`` (coding 0, payload raw UTF-8), ``data`` (coding 1,
URL-encoded bytes), ``ucs-2`` (coding 2, URL-encoded UTF-16BE) or ``udh`` (``udh <udh>
data <payload>``, one line per part of a concatenated message; parts are reassembled
here).  A coding-0 text containing a newline arrives split over two lines; the
continuation is re-joined.

Facts verified against Kannel 1.4.5 (Debian ``kannel``/``kannel-extras`` 1.4.5-12):

* MO ``get-url`` escapes (all URL-encoded by Kannel, space -> ``+``, ``+`` -> ``%2B``,
  ``#`` -> ``%23``): ``%p`` sender, ``%P`` receiver, ``%b`` message bytes verbatim,
  ``%I`` UUID (non-empty for fake SMSC MOs), ``%T`` unix time, ``%i`` smsc-id
  (``fake-mo``), ``%c`` coding (0 = 7-bit/text, 1 = 8-bit, 2 = UCS-2), ``%C`` charset
  (``UTF-8`` for coding 0, ``8-BIT`` for 1, ``UTF-16BE`` for 2).  For UCS-2 ``%b`` is the
  URL-encoded *UTF-16BE bytes* (e.g. ``%00J%00a``) - decode the raw query with latin-1,
  then ``.decode("utf-16-be")``; aiohttp's ``request.query`` decodes as UTF-8 and mangles
  it (see :func:`parse_mo_query`).
* ``max-messages = 0`` in the sms-service means smsbox never sends a reply SMS at all
  (smsbox logs "No reply sent, denied."), whatever the webhook answers.
* smsbox retries a failed get-url (connection refused or ANY non-2xx, e.g. 404/500)
  ``http-request-retry`` times, ``http-queue-delay`` seconds apart, then drops the MO.
* The fake SMSC produces DLRs: with ``dlr-mask=31`` the dlr-url is called with
  ``%d=8`` (SMSC ack, ``%A=ACK/``) and then ``%d=1`` (delivered, ``%A`` empty).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "INSTALL_COMMAND",
    "KannelBinaries",
    "KannelError",
    "KannelHarness",
    "MO_SMSC_ID",
    "MT_SMSC_ID",
    "ReceivedSms",
    "gateway_get_url",
    "gateway_kannel_settings",
    "kannel_binaries_or_fail",
    "parse_mo_query",
    "running_kannel",
    "start_kannel",
]

#: Command that installs everything this harness needs (Debian/Ubuntu, as root).
INSTALL_COMMAND = "apt-get install -y kannel kannel-extras"

#: smsc-id of the fake SMSC the injectors connect to; what ``%i`` reports for MOs.
MO_SMSC_ID = "fake-mo"
#: smsc-id of the fake SMSC that carries every MT; what ``%i`` reports in DLRs.
MT_SMSC_ID = "fake-mt"

_HOST = "127.0.0.1"
_START_TIMEOUT = 20.0


class KannelError(RuntimeError):
    """Kannel could not be started or did not behave as the harness expects."""


# --------------------------------------------------------------------------- binaries


@dataclass(frozen=True)
class KannelBinaries:
    """Paths of the three Kannel executables the harness runs."""

    bearerbox: str
    smsbox: str
    fakesmsc: str


def kannel_binaries_or_fail() -> KannelBinaries:
    """Return the Kannel binaries, or raise :class:`KannelError` naming the install command.

    Looks at ``$KANNEL_BEARERBOX`` / ``$KANNEL_SMSBOX`` / ``$KANNEL_FAKESMSC`` first, then
    ``/usr/sbin/bearerbox``, ``/usr/sbin/smsbox`` (package ``kannel``) and
    ``/usr/lib/kannel/test/fakesmsc`` (package ``kannel-extras``), then ``$PATH``.
    Never skips: a machine without Kannel must fail loudly with
    ``apt-get install -y kannel kannel-extras`` in the message.
    """

    def find(env: str, default: str, name: str) -> str | None:
        for cand in (os.environ.get(env), default, shutil.which(name)):
            if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
                return cand
        return None

    found = {
        "bearerbox": find("KANNEL_BEARERBOX", "/usr/sbin/bearerbox", "bearerbox"),
        "smsbox": find("KANNEL_SMSBOX", "/usr/sbin/smsbox", "smsbox"),
        "fakesmsc": find("KANNEL_FAKESMSC", "/usr/lib/kannel/test/fakesmsc", "fakesmsc"),
    }
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise KannelError(f"Kannel binaries missing: {', '.join(missing)}. Install them with: {INSTALL_COMMAND}")
    return KannelBinaries(**found)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- MT model


@dataclass(frozen=True)
class ReceivedSms:
    """One MT SMS as received by the fake SMSC (concatenated parts already joined).

    ``sender``/``receiver`` are exactly what Kannel put on the wire (sendsms ``from``/``to``).
    ``text`` is the decoded body.  ``kind`` is the fake SMSC line type: ``"text"``
    (coding 0), ``"data"`` (coding 1), ``"ucs-2"`` (coding 2) or ``"udh"`` (concatenated or
    UDH message; coding is then guessed from the bytes, see ``raw``).  ``raw`` is the body
    bytes as carried (UTF-8 for coding 0, UTF-16BE for coding 2), ``parts`` the number of
    SMS parts, ``received_at`` a ``time.time()`` stamp.
    """

    sender: str
    receiver: str
    text: str
    kind: str = "text"
    raw: bytes = b""
    parts: int = 1
    received_at: float = 0.0


_GOT_RE = re.compile(rb"(?:DEBUG|INFO): Got message \d+: <(.*)>\r?$")
_LINE_RE = re.compile(rb"^(\S+) (\S+) (text|data|ucs-2|ucs2|udh) (.*)$", re.DOTALL)


def _unquote(b: bytes) -> bytes:
    """Undo Kannel's octstr_url_encode (``+`` is a space; a literal plus is ``%2B``)."""
    return urllib.parse.unquote_to_bytes(b.replace(b"+", b" "))


def _guess_decode(raw: bytes) -> str:
    """Decode bytes of unknown coding: clean UTF-8 wins, else UTF-16BE (UCS-2)."""
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        s = None
    if s is not None and not any((ord(c) < 32 and c not in "\t\n\r") or c == "\x7f" for c in s):
        return s
    if len(raw) % 2 == 0:
        try:
            return raw.decode("utf-16-be")
        except UnicodeDecodeError:
            pass
    return raw.decode("utf-8", "replace")


def _concat_info(udh: bytes) -> tuple[int, int, int] | None:
    """Return (ref, total, seq) from a concatenation IE in a UDH, or None."""
    if not udh:
        return None
    body = udh[1 : 1 + udh[0]]
    i = 0
    while i + 1 < len(body):
        iei, ln = body[i], body[i + 1]
        val = body[i + 2 : i + 2 + ln]
        if iei == 0x00 and ln == 3 and len(val) == 3:
            return val[0], val[1], val[2]
        if iei == 0x08 and ln == 4 and len(val) == 4:
            return (val[0] << 8) | val[1], val[2], val[3]
        i += 2 + ln
    return None


# --------------------------------------------------------------------------- helpers


def parse_mo_query(raw_query: str | bytes) -> dict[str, object]:
    """Reference decoder for the MO get-url query our config makes smsbox send.

    Takes the *raw* (still percent-encoded) query string, e.g. aiohttp's
    ``request.rel_url.raw_query_string``, and returns every parameter as ``str`` plus
    ``"text"`` decoded according to ``charset`` (``UTF-16BE`` -> UCS-2, ``UTF-8``, or
    ``8-BIT`` -> latin-1 passthrough) and ``"text_bytes"`` with the exact bytes of ``%b``.
    """
    if isinstance(raw_query, bytes):
        raw_query = raw_query.decode("ascii")
    pairs = urllib.parse.parse_qsl(raw_query, keep_blank_values=True, encoding="latin-1")
    out: dict[str, object] = {}
    for key, value in pairs:
        out[key] = value
    text_bytes = str(out.get("text", "")).encode("latin-1")
    for key, value in list(out.items()):
        if key != "text":
            out[key] = str(value).encode("latin-1").decode("utf-8", "replace")
    charset = str(out.get("charset", "UTF-8")).upper()
    if charset in ("UTF-16BE", "UCS-2", "UCS-2BE"):
        text = text_bytes.decode("utf-16-be", "replace")
    elif charset == "8-BIT":
        text = _guess_decode(text_bytes)
    else:
        text = text_bytes.decode("utf-8", "replace")
    out["text"] = text
    out["text_bytes"] = text_bytes
    return out


def _free_ports(n: int) -> list[int]:
    """Reserve n distinct free loopback TCP ports (bind to port 0, then release)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((_HOST, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _tail(path: Path, lines: int = 25) -> str:
    """Last lines of a log file, for error messages."""
    try:
        data = path.read_bytes().decode("utf-8", "replace").splitlines()
    except OSError:
        return f"(no {path.name})"
    return f"--- {path.name} (last {lines} lines) ---\n" + "\n".join(data[-lines:])


def _tcp_open(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection((_HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


_CONF_TEMPLATE = """\
# Generated by tests/support/kannel.py - Kannel {version_note}
group = core
admin-port = {admin_port}
admin-interface = 127.0.0.1
admin-password = {admin_password}
status-password = {status_password}
admin-allow-ip = 127.0.0.1
smsbox-port = {smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{log_dir}/bearerbox.log"
log-level = {log_level}
access-log = "{log_dir}/bearerbox-access.log"
dlr-storage = internal

# MT: the long-lived fakesmsc receiver is connected here; all sendsms traffic lands here.
group = smsc
smsc = fake
smsc-id = {mt_smsc_id}
port = {fake_mt_port}
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1

# MO: short-lived fakesmsc injectors connect here one after another.
# allowed-smsc-id names an id nobody uses, so no MT is ever routed here.
group = smsc
smsc = fake
smsc-id = {mo_smsc_id}
port = {fake_mo_port}
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1
allowed-smsc-id = never-route-mt-here

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{log_dir}/smsbox.log"
log-level = {log_level}
access-log = "{log_dir}/smsbox-access.log"
http-request-retry = {http_request_retry}
http-queue-delay = {http_queue_delay}
mo-recode = {mo_recode}

group = sendsms-user
username = {username}
password = {password}
user-allow-ip = 127.0.0.1
max-messages = 10
concatenation = true

# MO -> our webhook. max-messages = 0: smsbox never answers with an SMS of its own.
group = sms-service
keyword = default
catch-all = yes
max-messages = 0
omit-empty = true
get-url = "{get_url}"
"""


# --------------------------------------------------------------------------- harness


_LIVE: weakref.WeakSet[KannelHarness] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    for h in list(_LIVE):
        with contextlib.suppress(Exception):
            h.stop()


@dataclass(eq=False)
class KannelHarness:
    """A running bearerbox + smsbox + fakesmsc MT receiver; create it with :func:`start_kannel`.

    Public attributes: ``sendsms_url`` (``http://127.0.0.1:<port>/cgi-bin/sendsms``),
    ``username``/``password`` (the sendsms-user), ``admin_url`` and ``status_password``
    (bearerbox admin interface), ``ports`` (name -> port), ``tmp_dir`` (config + logs),
    ``conf_path`` and ``get_url``.  Use it as a context manager or call :meth:`stop`.
    """

    sendsms_url: str
    username: str
    password: str
    admin_url: str = ""
    admin_password: str = ""
    status_password: str = ""
    ports: dict[str, int] = field(default_factory=dict)
    tmp_dir: Path = Path(".")
    conf_path: Path = Path(".")
    get_url: str = ""
    binaries: KannelBinaries | None = field(default=None, repr=False)

    _procs: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False)
    _received: list[ReceivedSms] = field(default_factory=list, repr=False)
    _consumed: set[int] = field(default_factory=set, repr=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _inject_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, repr=False)
    _stopped: bool = field(default=False, repr=False)

    # ------------------------------------------------------------------ MO

    def inject(self, sender: str, receiver: str, text: str, *, coding: str = "text") -> None:
        """Deliver an MO SMS (a citizen texting ``receiver``) into Kannel; blocks until accepted.

        ``coding``: ``"text"`` (default; 7-bit/GSM, Kannel reports ``coding=0
        charset=UTF-8`` and passes the UTF-8 bytes verbatim; must not contain CR/LF),
        ``"ucs2"`` (Kannel reports ``coding=2 charset=UTF-16BE``; any Unicode incl.
        newlines and emoji), or ``"data"`` (8-bit, ``coding=1 charset=8-BIT``, UTF-8 bytes).
        Returns once bearerbox has counted the message as received from the fake SMSC
        (smsbox then calls the get-url asynchronously).  Raises :class:`KannelError` when
        bearerbox does not accept it within 10 s.  Thread-safe; calls are serialised.
        """
        for name, value in (("sender", sender), ("receiver", receiver)):
            if not value or any(ch.isspace() for ch in value):
                raise ValueError(f"{name} must be non-empty without whitespace: {value!r}")
        kind = coding.lower().replace("-", "")
        if kind in ("text", "7bit", "gsm"):
            if "\n" in text or "\r" in text:
                raise ValueError("coding='text' cannot carry CR/LF through fakesmsc; use coding='ucs2'")
            line = f"{sender} {receiver} text {text}"
        elif kind in ("ucs2", "utf16", "utf16be"):
            # surrogatepass: a lone surrogate goes out as its code unit, as from a phone that cut an emoji
            enc = urllib.parse.quote_from_bytes(text.encode("utf-16-be", "surrogatepass"), safe="")
            line = f"{sender} {receiver} ucs2 {enc}"
        elif kind in ("data", "8bit", "binary"):
            enc = urllib.parse.quote_from_bytes(text.encode("utf-8"), safe="")
            line = f"{sender} {receiver} data {enc}"
        else:
            raise ValueError(f"unknown coding {coding!r}; use 'text', 'ucs2' or 'data'")

        self._check_alive()
        assert self.binaries is not None
        with self._inject_lock:
            before = self._smsc_counter(self.ports["fake_mo"])
            log = open(self.tmp_dir / "fakesmsc-inject.log", "ab")
            try:
                proc = subprocess.Popen(
                    [
                        self.binaries.fakesmsc,
                        "-H",
                        _HOST,
                        "-r",
                        str(self.ports["fake_mo"]),
                        "-m",
                        "1",
                        "-i",
                        "0",
                        "-v",
                        "1",
                        line,
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            finally:
                log.close()
            try:
                deadline = time.monotonic() + 10.0
                while True:
                    if self._smsc_counter(self.ports["fake_mo"]) > before:
                        break
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise KannelError(
                            f"bearerbox did not receive injected MO {line!r} "
                            f"(fakesmsc rc={proc.poll()})\n" + self.log_tails()
                        )
                    time.sleep(0.02)
            finally:
                _terminate(proc, signal.SIGINT, 3.0)

    async def inject_async(self, sender: str, receiver: str, text: str, *, coding: str = "text") -> None:
        """:meth:`inject` for async tests: runs in a worker thread, never blocks the event loop."""
        await asyncio.to_thread(self.inject, sender, receiver, text, coding=coding)

    # ------------------------------------------------------------------ MT

    def received(self) -> list[ReceivedSms]:
        """Every MT SMS the fake SMSC has received so far, oldest first (consumed or not)."""
        with self._cond:
            return list(self._received)

    def _take(self, to: str | None, predicate: Callable[[ReceivedSms], bool] | None) -> ReceivedSms | None:
        for idx, sms in enumerate(self._received):
            if idx in self._consumed:
                continue
            if to is not None and sms.receiver != to:
                continue
            if predicate is not None and not predicate(sms):
                continue
            self._consumed.add(idx)
            return sms
        return None

    def wait_for_mt(
        self,
        to: str | None,
        timeout: float = 15.0,
        predicate: Callable[[ReceivedSms], bool] | None = None,
    ) -> ReceivedSms:
        """Block until the fake SMSC has an MT for ``to`` (exact match; None = anyone).

        Returns the oldest not-yet-returned matching :class:`ReceivedSms` and marks it
        consumed, so two calls return two different messages.  ``predicate`` filters
        further.  Raises ``TimeoutError`` listing what did arrive.  Blocking: from async
        code use :meth:`wait_for_mt_async`.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                sms = self._take(to, predicate)
                if sms is not None:
                    return sms
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no MT to {to!r} within {timeout}s; received so far: {self._received!r}")
                self._cond.wait(min(left, 0.2))

    async def wait_for_mt_async(
        self,
        to: str | None,
        timeout: float = 15.0,
        predicate: Callable[[ReceivedSms], bool] | None = None,
    ) -> ReceivedSms:
        """Async :meth:`wait_for_mt`: polls without blocking the event loop (safe when the
        gateway under test runs in the same loop)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                sms = self._take(to, predicate)
                if sms is not None:
                    return sms
                snapshot = list(self._received)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no MT to {to!r} within {timeout}s; received so far: {snapshot!r}")
            await asyncio.sleep(0.05)

    def assert_no_mt(self, within: float = 2.0, to: str | None = None) -> None:
        """Wait ``within`` seconds and raise AssertionError if an unconsumed MT (to ``to``) arrived."""
        time.sleep(within)
        with self._cond:
            extra = [
                s for i, s in enumerate(self._received) if i not in self._consumed and (to is None or s.receiver == to)
            ]
        if extra:
            raise AssertionError(f"unexpected MT SMS: {extra!r}")

    # ------------------------------------------------------------------ sendsms convenience

    def sendsms(
        self,
        to: str,
        text: str,
        *,
        sender: str = "1708",
        coding: int | None = None,
        charset: str = "UTF-8",
        dlr_url: str | None = None,
        dlr_mask: int | None = None,
        timeout: float = 10.0,
        **extra: str,
    ) -> tuple[int, str]:
        """Call smsbox's sendsms like the gateway does; returns (HTTP status, body).

        Success is ``202`` with body ``0: Accepted for delivery``; bad credentials give
        ``403 Authorization failed for sendsms``.  ``dlr_url`` is URL-encoded for you.
        """
        params: dict[str, str] = {
            "username": self.username,
            "password": self.password,
            "from": sender,
            "to": to,
            "text": text,
            "charset": charset,
        }
        if coding is not None:
            params["coding"] = str(coding)
        if dlr_url is not None:
            params["dlr-url"] = dlr_url
        if dlr_mask is not None:
            params["dlr-mask"] = str(dlr_mask)
        params.update(extra)
        url = self.sendsms_url + "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                return resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    # ------------------------------------------------------------------ status / logs

    def status(self) -> str:
        """bearerbox's plain-text status page (``/status.txt``)."""
        url = f"{self.admin_url}/status.txt?password={urllib.parse.quote(self.status_password)}"
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.read().decode("utf-8", "replace")

    def _smsc_counter(self, port: int) -> int:
        """``rcvd: sms N`` of the fake SMSC listening on ``port`` (-1 if unknown)."""
        try:
            text = self.status()
        except OSError:
            return -1
        for line in text.splitlines():
            if f"FAKE:{port} " in line:
                m = re.search(r"rcvd: sms (\d+)", line)
                if m:
                    return int(m.group(1))
        return -1

    def log_tails(self, lines: int = 25) -> str:
        """Tails of all Kannel logs in ``tmp_dir``, for assertion messages."""
        names = [
            "bearerbox.log",
            "bearerbox.console.log",
            "smsbox.log",
            "smsbox.console.log",
            "fakesmsc-mt.log",
            "fakesmsc-inject.log",
        ]
        return "\n".join(_tail(self.tmp_dir / n, lines) for n in names)

    def _check_alive(self) -> None:
        if self._stopped:
            raise KannelError("Kannel harness already stopped")
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                raise KannelError(f"{name} exited with {proc.returncode}\n" + self.log_tails())

    # ------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        """Stop fakesmsc, smsbox and bearerbox (SIGINT/SIGTERM to each process group, then SIGKILL)."""
        if self._stopped:
            return
        self._stopped = True
        self._halt()
        _LIVE.discard(self)

    def stop_boxes(self) -> None:
        """An outage: stop smsbox, bearerbox and the fake SMSC; sendsms refuses connections and
        MO stops until :meth:`start_boxes`. Config, ports and the MT SMS received so far stay."""
        self._check_alive()
        self._halt()

    def start_boxes(self) -> None:
        """Start bearerbox, the fake SMSC and smsbox again after :meth:`stop_boxes`, on the same
        ports with the same config; returns once sendsms answers again."""
        if self._stopped:
            raise KannelError("Kannel harness already stopped")
        if any(proc.poll() is None for proc in self._procs.values()):
            raise KannelError("Kannel is still running: call stop_boxes() first")
        self._procs.clear()
        try:
            self._launch()
        except BaseException:
            self.stop()
            raise

    def _halt(self) -> None:
        order = [("fakesmsc-mt", signal.SIGINT), ("smsbox", signal.SIGTERM), ("bearerbox", signal.SIGTERM)]
        for name, sig in order:
            proc = self._procs.get(name)
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)
        deadline = time.monotonic() + 3.0
        for name, _ in order:
            proc = self._procs.get(name)
            if proc is None:
                continue
            _terminate(proc, None, max(0.05, deadline - time.monotonic()))
        for t in self._threads:
            t.join(timeout=2)
        self._threads.clear()

    def _spawn(self, name: str, argv: list[str], **kw) -> subprocess.Popen:
        if "stderr" not in kw:
            console = open(self.tmp_dir / f"{name}.console.log", "ab")
            kw.update(stdout=console, stderr=subprocess.STDOUT)
        else:
            console = None
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(self.tmp_dir), **kw)
        finally:
            if console is not None:
                console.close()
        self._procs[name] = proc
        return proc

    def _smsc_line(self, port: int) -> str:
        try:
            text = self.status()
        except OSError:
            return ""
        return next((ln for ln in text.splitlines() if f"FAKE:{port} " in ln), "")

    def _launch(self) -> None:
        """Start bearerbox, the MT fake SMSC and smsbox from ``conf_path``; wait until each is ready."""
        assert self.binaries is not None
        binaries, fake_mt, sendsms = self.binaries, self.ports["fake_mt"], self.ports["sendsms"]
        self._spawn("bearerbox", [binaries.bearerbox, "-v", "2", str(self.conf_path)])
        _wait_until(lambda: self._smsc_line(fake_mt) != "", _START_TIMEOUT, "bearerbox admin status", self)

        mt = self._spawn(
            "fakesmsc-mt",
            [binaries.fakesmsc, "-H", _HOST, "-r", str(fake_mt), "-m", "0", "-v", "0", "0 0 text unused"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._start_mt_reader(mt, self.tmp_dir / "fakesmsc-mt.log")
        _wait_until(
            lambda: "(online" in self._smsc_line(fake_mt), _START_TIMEOUT, "fakesmsc MT receiver to connect", self
        )

        self._spawn("smsbox", [binaries.smsbox, "-v", "2", str(self.conf_path)])

        def smsbox_ready() -> bool:
            try:
                if not re.search(r"^\s*smsbox:", self.status(), re.M):
                    return False
            except OSError:
                return False
            if not _tcp_open(sendsms):
                return False
            try:
                urllib.request.urlopen(f"{self.sendsms_url}?username=&password=", timeout=2)
            except urllib.error.HTTPError:
                return True  # 403 Authorization failed: HTTP side is up
            except OSError:
                return False
            return True

        _wait_until(smsbox_ready, _START_TIMEOUT, "smsbox to connect and sendsms to answer", self)

    def __enter__(self) -> KannelHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ MT reader

    def _start_mt_reader(self, proc: subprocess.Popen, log_path: Path) -> None:
        lines: queue.Queue[bytes | None] = queue.Queue()

        def pump() -> None:
            assert proc.stderr is not None
            with open(log_path, "ab") as log:
                for raw in iter(proc.stderr.readline, b""):
                    log.write(raw)
                    log.flush()
                    lines.put(raw.rstrip(b"\n"))
            lines.put(None)

        def parse() -> None:
            pending: list | None = None  # [sender, receiver, bytes] of a coding-0 text
            partials: dict[tuple, dict[int, bytes]] = {}

            def emit(sms: ReceivedSms) -> None:
                with self._cond:
                    self._received.append(sms)
                    self._cond.notify_all()

            def flush() -> None:
                nonlocal pending
                if pending is not None:
                    s, r, body = pending
                    emit(ReceivedSms(s, r, body.decode("utf-8", "replace"), "text", body, 1, time.time()))
                    pending = None

            while True:
                try:
                    item = lines.get(timeout=0.15 if pending is not None else None)
                except queue.Empty:
                    flush()
                    continue
                if item is None:
                    flush()
                    return
                m = _GOT_RE.search(item)
                if not m:
                    continue
                payload = m.group(1)
                lm = _LINE_RE.match(payload)
                if lm is None:
                    # continuation of a coding-0 text that contained a newline
                    if pending is not None:
                        pending[2] += b"\n" + payload
                    continue
                flush()
                sender, receiver = lm.group(1).decode(), lm.group(2).decode()
                kind, rest = lm.group(3).decode(), lm.group(4)
                if kind == "text":
                    pending = [sender, receiver, rest]
                elif kind == "data":
                    body = _unquote(rest)
                    emit(ReceivedSms(sender, receiver, _guess_decode(body), "data", body, 1, time.time()))
                elif kind in ("ucs-2", "ucs2"):
                    body = _unquote(rest)
                    emit(
                        ReceivedSms(
                            sender, receiver, body.decode("utf-16-be", "replace"), "ucs-2", body, 1, time.time()
                        )
                    )
                else:  # udh <udh> data|text <payload>
                    parts = rest.split(b" ", 2)
                    udh = _unquote(parts[0])
                    body = (
                        _unquote(parts[2])
                        if len(parts) == 3 and parts[1] == b"data"
                        else (parts[2] if len(parts) == 3 else b"")
                    )
                    info = _concat_info(udh)
                    if info is None:
                        emit(ReceivedSms(sender, receiver, _guess_decode(body), "udh", body, 1, time.time()))
                        continue
                    ref, total, seq = info
                    key = (sender, receiver, ref, total)
                    got = partials.setdefault(key, {})
                    got[seq] = body
                    if len(got) >= total and all(i in got for i in range(1, total + 1)):
                        whole = b"".join(got[i] for i in range(1, total + 1))
                        del partials[key]
                        emit(ReceivedSms(sender, receiver, _guess_decode(whole), "udh", whole, total, time.time()))

        for target, name in ((pump, "kannel-mt-pump"), (parse, "kannel-mt-parse")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)


def _terminate(proc: subprocess.Popen, sig: int | None, grace: float) -> None:
    """Send ``sig`` to proc's process group (if given), wait ``grace`` s, then SIGKILL it."""
    if proc.poll() is None and sig is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    # a box may leave children in its group; make sure none survives
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _wait_until(cond: Callable[[], bool], timeout: float, what: str, harness: KannelHarness) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        harness._check_alive()
        if cond():
            return
        time.sleep(0.05)
    raise KannelError(f"timed out after {timeout}s waiting for {what}\n" + harness.log_tails())


def start_kannel(
    tmp_dir: Path,
    get_url: str,
    *,
    username: str = "gateway",
    password: str = "gateway-secret",
    http_request_retry: int = 3,
    http_queue_delay: int = 1,
    mo_recode: bool = False,
    log_level: int = 0,
) -> KannelHarness:
    """Start bearerbox, the fakesmsc MT receiver and smsbox; return once all are ready.

    ``get_url`` is the complete sms-service get-url template with Kannel %-escapes, e.g.
    ``http://127.0.0.1:<gw>/channels/sms/kannel?token=T&from=%p&to=%P&text=%b&id=%I&ts=%T
    &smsc=%i&coding=%c&charset=%C``.  Config, logs and consoles go to ``tmp_dir``.
    Ready means: admin status answers, the MT fakesmsc is "online", smsbox is connected
    to bearerbox and sendsms answers HTTP.  Port clashes are retried with new ports.
    Raises :class:`KannelError` (with log tails) on failure; binaries missing ->
    message contains ``apt-get install -y kannel kannel-extras``.
    """
    if '"' in get_url or "\n" in get_url or "\r" in get_url:
        raise ValueError("get_url must not contain double quotes or newlines")
    binaries = kannel_binaries_or_fail()
    tmp_dir = Path(tmp_dir)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    last_error: Exception | None = None
    for _attempt in range(3):
        try:
            return _start_once(
                binaries,
                tmp_dir,
                get_url,
                username,
                password,
                http_request_retry,
                http_queue_delay,
                mo_recode,
                log_level,
            )
        except KannelError as exc:  # most likely a port grabbed between probe and bind
            last_error = exc
    assert last_error is not None
    raise last_error


def _start_once(
    binaries: KannelBinaries,
    tmp_dir: Path,
    get_url: str,
    username: str,
    password: str,
    http_request_retry: int,
    http_queue_delay: int,
    mo_recode: bool,
    log_level: int,
) -> KannelHarness:
    admin, smsbox_port, sendsms, fake_mt, fake_mo = _free_ports(5)
    ports = {"admin": admin, "smsbox": smsbox_port, "sendsms": sendsms, "fake_mt": fake_mt, "fake_mo": fake_mo}
    admin_password = "admin-" + os.urandom(4).hex()
    status_password = "status-" + os.urandom(4).hex()
    for stale in (
        "bearerbox.log",
        "smsbox.log",
        "bearerbox-access.log",
        "smsbox-access.log",
        "fakesmsc-mt.log",
        "fakesmsc-inject.log",
        "bearerbox.console.log",
        "smsbox.console.log",
    ):
        with contextlib.suppress(FileNotFoundError):
            (tmp_dir / stale).unlink()
    conf = _CONF_TEMPLATE.format(
        version_note="1.4.5",
        admin_port=admin,
        admin_password=admin_password,
        status_password=status_password,
        smsbox_port=smsbox_port,
        sendsms_port=sendsms,
        fake_mt_port=fake_mt,
        fake_mo_port=fake_mo,
        mt_smsc_id=MT_SMSC_ID,
        mo_smsc_id=MO_SMSC_ID,
        log_dir=str(tmp_dir),
        log_level=log_level,
        http_request_retry=http_request_retry,
        http_queue_delay=http_queue_delay,
        mo_recode="true" if mo_recode else "false",
        username=username,
        password=password,
        get_url=get_url,
    )
    conf_path = tmp_dir / "kannel.conf"
    conf_path.write_text(conf)

    h = KannelHarness(
        sendsms_url=f"http://{_HOST}:{sendsms}/cgi-bin/sendsms",
        username=username,
        password=password,
        admin_url=f"http://{_HOST}:{admin}",
        admin_password=admin_password,
        status_password=status_password,
        ports=ports,
        tmp_dir=tmp_dir,
        conf_path=conf_path,
        get_url=get_url,
        binaries=binaries,
    )
    _LIVE.add(h)

    try:
        h._launch()
    except BaseException:
        h.stop()
        raise
    return h


@contextlib.contextmanager
def running_kannel(tmp_dir: Path, get_url: str, **kwargs) -> Iterator[KannelHarness]:
    """Context manager around :func:`start_kannel`; always stops every Kannel process."""
    h = start_kannel(tmp_dir, get_url, **kwargs)
    try:
        yield h
    finally:
        h.stop()


def gateway_get_url(port: int, token: str) -> str:
    """The smsbox ``get-url`` pointing at our gateway on ``port`` (the README's sms-service line)."""
    return (
        f"http://127.0.0.1:{port}/channels/sms/kannel?token={token}"
        "&from=%p&to=%P&text=%b&id=%I&ts=%T&smsc=%i&coding=%c&charset=%C"
    )


def gateway_kannel_settings(kannel: KannelHarness, port: int, token: str, sender: str) -> dict[str, object]:
    """The gateway's settings for serving on ``port`` with ``kannel`` as its SMS gateway (both directions)."""
    return {
        "port": port,
        "public_base_url": f"http://127.0.0.1:{port}",
        "kannel_sendsms_url": kannel.sendsms_url,
        "kannel_username": kannel.username,
        "kannel_password": kannel.password,
        "kannel_from": sender,
        "kannel_inbound_token": token,
    }
