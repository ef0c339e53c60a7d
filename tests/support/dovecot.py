"""Run a REAL Dovecot IMAP server on loopback for end-to-end tests of the email channel.

One :class:`DovecotHarness` = one ``dovecot -F -c <tmp>/dovecot.conf`` master (plus the
children it forks: log, config, anvil, auth, imap-login, imap, stats) in a process group of
its own, listening for plain-text IMAP on ``127.0.0.1:<free port>``, with one mailbox
account (default ``lapor@bogorkota.go.id``).  Everything the server writes lives under the
harness' temp directory; several harnesses can run side by side (pytest-xdist safe).

Layout of ``tmp_dir``::

    dovecot.conf      the generated config (template: ``_CONF_TEMPLATE``)
    passwd            passwd-file passdb, ``user:{PLAIN}password::::::``
    dovecot.log       log_path/info_log_path (debug_log_path too)
    console.log       stdout/stderr of the master
    run/              base_dir (sockets, master.pid, login/ chroot)      [1]
    state/            state_dir
    mail/<user>/      mail_location = maildir (Maildir++; INBOX = cur/new/tmp,
                      folder "A/B" = ``.A.B/``)                          [2]
    home/<user>/      the user's home (userdb static ``home=``)           [2]

[1] Unix socket paths are limited to 108 bytes; when ``tmp_dir`` is too deep ``run`` is a
    symlink to a short ``/tmp/dcrun-*`` directory (removed again by :meth:`stop`).
[2] See "Running as root" below: ``mail`` and ``home`` may be symlinks to ``/tmp/dcmail-*``.

Facts verified against Dovecot 2.3.19.1 (Debian bookworm ``dovecot-core``/``dovecot-imapd``
1:2.3.19.1+dfsg1-2.1+deb12u7):

* **Running as root** (as in CI): ``imap-login`` refuses to run as root ("Fatal: This
  process must not be run as root"), so ``default_login_user`` is an unprivileged account
  (``dovenull``, created by the Debian package, else ``nobody``).  The login process is
  chrooted into ``run/login`` by the (root) master, so it never needs to traverse
  ``tmp_dir``.  ``default_internal_user``/``default_internal_group`` = ``root``: auth,
  config, log, stats run as root and can read the passwd file and write the log inside a
  ``0700`` pytest directory.  Mail processes can NEVER be root: a userdb uid of 0 is
  refused hard-coded ("Invalid settings in userdb: userdb returned 0 as uid", whatever
  ``first_valid_uid`` says), so the userdb returns ``nobody``'s uid/gid (65534) and
  ``first_valid_uid = first_valid_gid = 1``.  ``imap`` runs as that uid and must be able
  to *traverse* to the maildir; pytest's ``/tmp/pytest-of-root`` is ``0700``, so when
  ``tmp_dir`` is not traversable by that uid, ``mail``/``home`` are symlinks into a private
  ``/tmp/dcmail-*`` dir (``0711``; removed by :meth:`stop`).  The harness itself (root)
  reads/writes the maildir directly without trouble.
* **Running unprivileged**: all three users are the current user and the userdb returns
  the current uid/gid; nothing needs root (the chroot of imap-login is skipped).
* APPEND answers ``[APPENDUID <uidvalidity> <uid>]`` (UIDPLUS); IDLE, UIDPLUS, MOVE,
  CONDSTORE, ... are in the post-login CAPABILITY; the greeting capability lists IDLE too.
* ``BODY.PEEK[]`` does not set ``\\Seen``; ``BODY[]`` (non-peek) sets it in a read-write
  SELECT.
* UIDVALIDITY of a new mailbox is ``time()``-based and made unique per mail root via the
  ``dovecot-uidvalidity`` file, so a deleted and re-created folder gets a new one.  See
  :meth:`DovecotHarness.reset_uidvalidity` for how an existing folder's is changed
  (deleting index files under a live session instead leaves that session answering
  "NO Internal error" / "[SERVERBUG]" even to a new SELECT - hence the restart).
* Stopping: with IMAP sessions open, a SIGTERMed master lingers ~1 s before it reaps its
  children, so :meth:`DovecotHarness.stop` first SIGTERMs the ``imap``/``imap-login``
  processes (clients get ``* BYE Server shutting down.``), then the process group; the
  master exits in ~0.01-0.1 s.  Leftovers would be SIGKILLed.
* After a failed login, anvil's "auth penalty" delays every later login from the same IP
  by 2/4/8/15 s, and ``login_trusted_networks`` does not exempt from that in 2.3; the
  config disables it (no ``anvil-auth-penalty`` socket).  A wrong password still takes
  ~0.5 s to be refused (auth flushes failures every 500 ms).
* IDLE: a delivery reaches an idling session after ~0.5 s (Dovecot's notify delay).
"""

from __future__ import annotations

import atexit
import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import imapclient
from imapclient.exceptions import IMAPClientError

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USER",
    "INSTALL_COMMAND",
    "DovecotError",
    "DovecotHarness",
    "dovecot_binaries_or_fail",
    "dovecot_version",
    "running_dovecot",
    "start_dovecot",
]

#: Command that installs everything this harness needs (Debian/Ubuntu, as root).
INSTALL_COMMAND = "apt-get install -y dovecot-imapd"

DEFAULT_USER = "lapor@bogorkota.go.id"
DEFAULT_PASSWORD = "lapor-secret-123"

_HOST = "127.0.0.1"
_DEFAULT_BINARY = "/usr/sbin/dovecot"
_START_TIMEOUT = 15.0
#: longest socket name dovecot creates below base_dir ("token-login/imap-urlauth") + margin
_SOCKET_SUFFIX_MAX = 40
_SUN_PATH_MAX = 107


class DovecotError(RuntimeError):
    """Dovecot could not be started or did not behave as the harness expects."""


# --------------------------------------------------------------------------- binaries


def dovecot_binaries_or_fail() -> Path:
    """Return the path of the ``dovecot`` master binary, or raise :class:`DovecotError`.

    Looks at ``$DOVECOT_BINARY``, then ``/usr/sbin/dovecot``, then ``$PATH``; also checks
    that the IMAP parts (``imap``, ``imap-login`` from package ``dovecot-imapd``) are next
    to it in ``/usr/lib/dovecot`` (or ``$DOVECOT_LIBEXEC``).  Never skips: a machine without
    Dovecot fails loudly with ``apt-get install -y dovecot-imapd`` in the message.
    """
    binary: Path | None = None
    for cand in (os.environ.get("DOVECOT_BINARY"), _DEFAULT_BINARY, shutil.which("dovecot")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            binary = Path(cand)
            break
    if binary is None:
        raise DovecotError(f"Dovecot binary 'dovecot' not found. Install it with: {INSTALL_COMMAND}")
    libexec = Path(os.environ.get("DOVECOT_LIBEXEC", "/usr/lib/dovecot"))
    missing = [n for n in ("imap", "imap-login") if not (libexec / n).exists()]
    if missing and libexec == Path("/usr/lib/dovecot"):
        raise DovecotError(
            f"Dovecot IMAP server parts missing ({', '.join(str(libexec / n) for n in missing)}). "
            f"Install them with: {INSTALL_COMMAND}"
        )
    return binary


def _doveadm_binary(dovecot: Path) -> Path:
    for cand in (
        os.environ.get("DOVEADM_BINARY"),
        dovecot.parent.parent / "bin" / "doveadm",
        "/usr/bin/doveadm",
        shutil.which("doveadm"),
    ):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return Path(cand)
    raise DovecotError(f"doveadm not found. Install it with: {INSTALL_COMMAND}")


def dovecot_version(binary: Path | None = None) -> str:
    """``dovecot --version``, e.g. ``"2.3.19.1 (9b53102964)"``."""
    binary = binary or dovecot_binaries_or_fail()
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


# --------------------------------------------------------------------------- helpers


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((_HOST, 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        data = path.read_bytes().decode("utf-8", "replace").splitlines()
    except OSError:
        return f"(no {path.name})"
    return f"--- {path.name} (last {lines} lines) ---\n" + "\n".join(data[-lines:])


def _traversable_by(path: Path, uid: int, gid: int) -> bool:
    """True when every directory from / down to ``path`` is searchable (x) by uid/gid."""
    path = path.resolve()
    for p in [path, *path.parents]:
        try:
            st = p.stat()
        except OSError:
            return False
        if st.st_uid == uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid == gid:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return False
    return True


def _fatal_lines(log_path: Path, offset: int = 0) -> list[str]:
    try:
        with open(log_path, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [ln for ln in text.splitlines() if ": Fatal: " in ln]


def _pgroup_members(pgid: int) -> list[tuple[int, str, str]]:
    """(pid, state, comm) of every process (zombies included) in process group ``pgid``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...
        rparen = raw.rfind(")")
        comm = raw[raw.find("(") + 1 : rparen]
        fields = raw[rparen + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid:
            out.append((int(entry), fields[0], comm))
    return out


def _quote_conf(value: str) -> str:
    if any(c in value for c in '"\n\r'):
        raise ValueError(f"unsupported character in dovecot config value: {value!r}")
    return value


_CONF_TEMPLATE = """\
# Generated by tests/support/dovecot.py for Dovecot {version}
protocols = imap
listen = 127.0.0.1
base_dir = {base_dir}
state_dir = {state_dir}
log_path = {log_path}
info_log_path = {log_path}
debug_log_path = {log_path}
instance_name = dovecot-test-{port}

# plain-text IMAP on loopback, no TLS at all
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
# wrong passwords answer at once instead of after 2 s (see also "service anvil" below)
auth_failure_delay = 0

# who runs what (see the module docstring: login processes must not be root, mail
# processes never run as uid 0)
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
first_valid_gid = 1

mail_location = maildir:{mail_root}/%u
# IDLE: push changes quickly even if inotify is unavailable
mailbox_idle_check_interval = 1 secs
imap_idle_notify_interval = 1 secs
mail_max_userip_connections = 100
mail_fsync = never

namespace inbox {{
  inbox = yes
  separator = /
}}

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd_path}
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={home_root}/%u
}}

service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}

# No auth penalty: otherwise, after one failed login, anvil makes auth delay EVERY later
# login from 127.0.0.1 by 2, 4, 8, 15 s (login_trusted_networks does not exempt from it in
# 2.3).  mode = 0 means master creates no such socket, auth cannot connect and disables
# penalties.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
{unprivileged}"""

#: Added when not running as root: chroot() needs root ("chroot(.../run/login) failed:
#: Operation not permitted"), so the services that chroot by default do not.
_UNPRIVILEGED_SERVICES = """service anvil {
  chroot =
}
service imap-login {
  chroot =
}
service imap-urlauth-login {
  chroot =
}
"""


# --------------------------------------------------------------------------- harness


_LIVE: weakref.WeakSet[DovecotHarness] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    for h in list(_LIVE):
        with contextlib.suppress(Exception):
            h.stop()


@dataclass(eq=False)
class DovecotHarness:
    """A running Dovecot IMAP server with one account; create with :func:`running_dovecot`.

    Public attributes: ``host`` (``127.0.0.1``), ``port`` (plain IMAP, no TLS), ``user`` and
    ``password`` of the account, ``tmp_dir`` (config, logs, maildir), ``conf_path``,
    ``log_path``, ``mail_dir`` (the user's Maildir++ root, i.e. INBOX).  Use it as a context
    manager or call :meth:`stop`.  Every helper opens its own short IMAP connection as the
    user, so the helpers are thread-safe and never disturb the gateway's connections.
    """

    host: str
    port: int
    user: str
    password: str
    tmp_dir: Path
    conf_path: Path = Path(".")
    log_path: Path = Path(".")
    mail_dir: Path = Path(".")
    binary: Path = field(default=Path("/usr/sbin/dovecot"), repr=False)
    _proc: subprocess.Popen | None = field(default=None, repr=False)
    _cleanup_dirs: list[Path] = field(default_factory=list, repr=False)
    _stopped: bool = field(default=False, repr=False)
    _log_offset: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ------------------------------------------------------------------ connections

    def connect(self, *, login: bool = True, timeout: float = 10.0) -> imapclient.IMAPClient:
        """A new :class:`imapclient.IMAPClient` to this server (logged in as the user unless
        ``login=False``).  The caller closes it (``logout()``); usable as a context manager."""
        self._check_alive()
        client = imapclient.IMAPClient(self.host, port=self.port, ssl=False, timeout=timeout)
        if login:
            try:
                client.login(self.user, self.password)
            except BaseException:
                with contextlib.suppress(Exception):
                    client.shutdown()
                raise
        return client

    @contextlib.contextmanager
    def _client(self) -> Iterator[imapclient.IMAPClient]:
        client = self.connect()
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    # ------------------------------------------------------------------ mailbox helpers

    def deliver(self, raw: bytes, *, folder: str = "INBOX", flags: Iterable[bytes | str] = (), msg_time=None) -> int:
        """APPEND ``raw`` (a complete RFC 5322 message, CRLF or LF) to ``folder`` as the user;
        return the new message's UID (from the ``APPENDUID`` response code, RFC 4315).

        ``flags`` e.g. ``(b"\\\\Seen",)``; ``msg_time`` (a ``datetime``) sets INTERNALDATE.
        The folder must exist (INBOX always does; see :meth:`create_folder`).  The message is
        visible to other sessions (and IDLE) as soon as this returns.
        """
        if isinstance(raw, str):
            raise TypeError("deliver() wants bytes")
        with self._client() as c:
            resp = c.append(folder, raw, flags=tuple(flags), msg_time=msg_time)
        text = resp.decode("ascii", "replace") if isinstance(resp, bytes) else str(resp)
        m = re.search(r"\[APPENDUID (\d+) (\d+)\]", text)
        if not m:
            raise DovecotError(f"APPEND to {folder!r} gave no APPENDUID: {text!r}")
        return int(m.group(2))

    def uidvalidity(self, folder: str = "INBOX") -> int:
        """Current UIDVALIDITY of ``folder`` (via STATUS)."""
        with self._client() as c:
            st = c.folder_status(folder, [b"UIDVALIDITY"])
        return int(st[b"UIDVALIDITY"])

    def uidnext(self, folder: str = "INBOX") -> int:
        """Current UIDNEXT of ``folder`` (via STATUS)."""
        with self._client() as c:
            st = c.folder_status(folder, [b"UIDNEXT"])
        return int(st[b"UIDNEXT"])

    def reset_uidvalidity(
        self, folder: str = "INBOX", *, renumber: bool = True, new_value: int | None = None, kick: bool = True
    ) -> int:
        """Force a UIDVALIDITY change of ``folder``; returns the new UIDVALIDITY (``old + 1``
        unless ``new_value`` is given).  Messages and their flags are kept either way.

        ``renumber=True`` (default) - the nasty real-world case (mailbox rebuilt/restored on
        the server): UIDs restart at 1.  How: the server is stopped (every IMAP connection
        drops with ``* BYE Server shutting down.``), the folder's ``dovecot-uidlist`` is
        rewritten with header ``3 V<new> N<n+1> G<same mailbox GUID>`` and the message files
        renumbered 1..n in their old UID order, its ``dovecot.index*`` files are deleted, and
        the server is started again on the same port (Dovecot rebuilds the index; flags live
        in the file names).  Takes ~0.2 s.  The gateway sees a dropped connection, then the
        new UIDVALIDITY at its next SELECT/STATUS.

        ``renumber=False``: server stays up; ``doveadm mailbox update --uid-validity <new>``
        (supported admin command) changes only UIDVALIDITY; UIDs stay as they are (and new
        ones continue after the old UIDNEXT).  Then, with ``kick=True`` (default), every
        session of the user is disconnected (:meth:`kick`), so clients see the change at
        their next SELECT.  With ``kick=False`` what an open session sees is up to Dovecot:
        sometimes ``* BYE IMAP session state is inconsistent, please relogin.``, sometimes
        nothing at all until it re-SELECTs (IMAP has no untagged UIDVALIDITY update).
        """
        with self._lock:
            old = self.uidvalidity(folder)
            target = new_value if new_value is not None else old + 1
            if not 0 < target < 2**32:
                raise ValueError("UIDVALIDITY must be in 1..2^32-1")
            if target == old:
                raise ValueError("new_value equals the current UIDVALIDITY")
            if renumber:
                self._check_alive()
                self._stop_process()
                self._rewrite_uidlist(folder, target)
                self._spawn()
                _wait_ready(self)
            else:
                self._doveadm("mailbox", "update", "--uid-validity", str(target), "-u", self.user, folder)
                if kick:
                    self.kick()
            got = self.uidvalidity(folder)
            if got != target:
                raise DovecotError(f"UIDVALIDITY of {folder!r} is {got}, wanted {target}\n" + self.log_tail())
            return got

    def maildir_of(self, folder: str = "INBOX") -> Path:
        """The Maildir of ``folder`` on disk (INBOX = :attr:`mail_dir`, ``"A/B"`` =
        ``mail_dir/.A.B``; ASCII folder names only)."""
        if folder.upper() == "INBOX":
            return self.mail_dir
        return self.mail_dir / ("." + folder.replace("/", "."))

    def _rewrite_uidlist(self, folder: str, uidvalidity: int) -> None:
        """With the server stopped: renumber the folder's messages 1..n (old UID order) under a
        new UIDVALIDITY in ``dovecot-uidlist`` (format 3: header ``3 V<uidvalidity> N<next>
        G<guid>``, then one ``<uid> [<ext>] :<file name>`` line per message) and delete the
        index files, which Dovecot rebuilds from the uidlist on the next access."""
        d = self.maildir_of(folder)
        uidlist = d / "dovecot-uidlist"
        if not d.is_dir():
            raise DovecotError(f"no maildir {d} for folder {folder!r}")
        try:
            lines = uidlist.read_text(errors="surrogateescape").splitlines()
        except FileNotFoundError:
            lines = []
        header = lines[0] if lines else ""
        if header and not header.startswith("3 "):
            raise DovecotError(f"unexpected dovecot-uidlist format in {uidlist}: {header!r}")
        m = re.search(r"(?:^| )G([0-9a-fA-F]+)", header)
        guid = f" G{m.group(1)}" if m else ""
        records = []
        for line in lines[1:]:
            uid, sep, rest = line.partition(" ")
            if sep and uid.isdigit():
                records.append((int(uid), rest))
        records.sort()
        body = "".join(f"{i} {rest}\n" for i, (_old, rest) in enumerate(records, start=1))
        for p in d.iterdir():
            if p.name.startswith(("dovecot.index", "dovecot-uidlist")):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
        tmp = d / "dovecot-uidlist.harness-tmp"
        tmp.write_text(f"3 V{uidvalidity} N{len(records) + 1}{guid}\n{body}", errors="surrogateescape")
        st = d.stat()
        if os.geteuid() == 0:
            os.chown(tmp, st.st_uid, st.st_gid)
        os.chmod(tmp, 0o600)
        os.replace(tmp, uidlist)

    def flags(self, uid: int, folder: str = "INBOX") -> set[bytes]:
        """Stored FLAGS of message ``uid`` in ``folder`` (read-only EXAMINE), e.g.
        ``{b"\\\\Seen"}``; the per-session ``\\\\Recent`` is left out.  KeyError if no such UID."""
        with self._client() as c:
            c.select_folder(folder, readonly=True)
            resp = c.get_flags([uid])
        if uid not in resp:
            raise KeyError(f"no UID {uid} in {folder!r}")
        flags = {f if isinstance(f, bytes) else str(f).encode() for f in resp[uid]}
        return {f for f in flags if f.lower() != b"\\recent"}

    def list_uids(self, folder: str = "INBOX") -> list[int]:
        """UIDs of all (non-expunged) messages in ``folder``, ascending."""
        with self._client() as c:
            c.select_folder(folder, readonly=True)
            return sorted(c.search(["ALL"]))

    def fetch(self, uid: int, folder: str = "INBOX") -> bytes:
        """The raw message ``uid`` (``BODY.PEEK[]``: does not set ``\\\\Seen``)."""
        with self._client() as c:
            c.select_folder(folder, readonly=True)
            resp = c.fetch([uid], [b"BODY.PEEK[]"])
        if uid not in resp:
            raise KeyError(f"no UID {uid} in {folder!r}")
        return resp[uid][b"BODY[]"]

    def create_folder(self, name: str) -> None:
        """CREATE ``name`` (hierarchy separator ``/``, e.g. ``"Complaints/Done"``); no-op if
        it already exists."""
        with self._client() as c:
            if not c.folder_exists(name):
                c.create_folder(name)

    def list_folders(self) -> list[str]:
        """Names of all folders of the account."""
        with self._client() as c:
            return [name for _flags, _sep, name in c.list_folders()]

    def supports_idle(self) -> bool:
        """True when the server advertises IDLE (RFC 2177) after LOGIN."""
        with self._client() as c:
            return c.has_capability("IDLE")

    def capabilities(self) -> tuple[bytes, ...]:
        """The post-login CAPABILITY list."""
        with self._client() as c:
            return tuple(c.capabilities())

    # ------------------------------------------------------------------ doveadm / logs

    def _doveadm(self, *args: str) -> str:
        doveadm = _doveadm_binary(self.binary)
        proc = subprocess.run(
            [str(doveadm), "-c", str(self.conf_path), *args],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise DovecotError(
                f"doveadm {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}\n" + self.log_tail()
            )
        return proc.stdout

    def doveadm(self, *args: str) -> str:
        """Run ``doveadm -c <our conf> <args>`` (e.g. ``"mailbox", "status", "-u", user,
        "all", "INBOX"``) and return its stdout; raises DovecotError on failure."""
        return self._doveadm(*args)

    def log_tail(self, lines: int = 30) -> str:
        """Tails of dovecot.log and console.log, for assertion messages."""
        return _tail(self.log_path, lines) + "\n" + _tail(self.tmp_dir / "console.log", lines)

    @property
    def pid(self) -> int | None:
        """PID of the dovecot master (also its process group id)."""
        return self._proc.pid if self._proc is not None else None

    def processes(self) -> list[tuple[int, str, str]]:
        """(pid, state, name) of every process in the server's process group."""
        if self._proc is None:
            return []
        return _pgroup_members(self._proc.pid)

    def _check_alive(self) -> None:
        if self._stopped:
            raise DovecotError("Dovecot harness already stopped")
        if self._proc is not None and self._proc.poll() is not None:
            raise DovecotError(f"dovecot exited with {self._proc.returncode}\n" + self.log_tail())

    # ------------------------------------------------------------------ lifecycle

    def _spawn(self) -> None:
        try:
            self._log_offset = self.log_path.stat().st_size
        except OSError:
            self._log_offset = 0
        with open(self.tmp_dir / "console.log", "ab") as console:
            self._proc = subprocess.Popen(
                [str(self.binary), "-F", "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=str(self.tmp_dir),
            )

    def _stop_process(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            # End the per-connection imap/imap-login processes first, while the master still
            # reaps them at once: with sessions open, a SIGTERMed master otherwise lingers
            # ~1 s before it reaps its children and exits.
            sessions = [
                pid for pid, state, comm in _pgroup_members(proc.pid) if comm in ("imap", "imap-login") and state != "Z"
            ]
            for pid in sessions:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 1.0
            while sessions and time.monotonic() < deadline:
                sessions = [pid for pid in sessions if os.path.exists(f"/proc/{pid}")]
                time.sleep(0.01)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        # children that outlived the master (none normally) must not survive
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if not [p for p in _pgroup_members(proc.pid) if p[1] != "Z"]:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            time.sleep(0.02)

    def restart(self) -> None:
        """Stop the server and start it again on the same port with the same mail store
        (messages, UIDs and UIDVALIDITY survive); every open IMAP connection is dropped.
        For "IMAP server went away" tests.  Returns once the server is ready again."""
        self._check_alive()
        self._stop_process()
        self._spawn()
        _wait_ready(self)

    def kick(self, timeout: float = 5.0) -> None:
        """Disconnect every IMAP session of the user (``doveadm kick <user>``) and wait until
        Dovecot no longer lists any (``doveadm who``); the server stays up and the clients
        see EOF (``imaplib.IMAP4.abort``/``OSError``) on their next command."""
        self._doveadm("kick", self.user)
        deadline = time.monotonic() + timeout
        while self.user in self._doveadm("who", self.user):
            if time.monotonic() > deadline:
                raise DovecotError(f"sessions of {self.user} still listed {timeout}s after kick")
            time.sleep(0.02)

    def poller_settings(self) -> dict[str, object]:
        """The gateway's IMAP settings for this mailbox: plain IMAP on loopback, quick polls and IDLE renewals."""
        return {
            "imap_host": self.host,
            "imap_port": self.port,
            "imap_user": self.user,
            "imap_password": self.password,
            "imap_ssl": False,
            "imap_poll_seconds": 0.5,
            "imap_idle_seconds": 5,
        }

    def set_password(self, password: str) -> None:
        """Change the account's password in the passwd file the server reads.

        Dovecot reads the passwd-file again when its size or mtime changed, so the next login
        needs the new password; sessions already logged in stay until :meth:`kick`. The
        harness' own helpers log in with the new password from now on.
        """
        if ":" in password or any(c.isspace() for c in password):
            raise ValueError("password must not contain ':' or whitespace (passwd-file)")
        passwd_path = self.tmp_dir / "passwd"
        passwd_path.write_text(f"{self.user}:{{PLAIN}}{password}::::::\n")
        self.password = password

    def stop(self) -> None:
        """SIGTERM the session processes, then the master's process group; wait up to 5 s,
        SIGKILL whatever is left; remove the private /tmp dirs (if any; ``tmp_dir/mail`` is
        then a dangling symlink).  Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._stop_process()
        for d in self._cleanup_dirs:
            shutil.rmtree(d, ignore_errors=True)
        _LIVE.discard(self)

    def __enter__(self) -> DovecotHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- start


def _accounts() -> tuple[str, str, str, int, int]:
    """(login_user, internal_user, internal_group, mail_uid, mail_gid) for this process."""
    euid = os.geteuid()
    if euid != 0:
        me = pwd.getpwuid(euid)
        group = grp.getgrgid(os.getegid()).gr_name
        return me.pw_name, me.pw_name, group, euid, os.getegid()
    login_user = "nobody"
    for cand in ("dovenull", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(cand)
            login_user = cand
            break
    try:
        nobody = pwd.getpwnam("nobody")
        mail_uid, mail_gid = nobody.pw_uid, nobody.pw_gid
    except KeyError:
        mail_uid = mail_gid = 65534
    return login_user, "root", grp.getgrgid(0).gr_name, mail_uid, mail_gid


def _short_dir(prefix: str, mode: int) -> Path:
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(d, mode)
    return d


def start_dovecot(
    tmp_dir: Path, *, user: str = DEFAULT_USER, password: str = DEFAULT_PASSWORD, verbose: bool = False
) -> DovecotHarness:
    """Start Dovecot with its files under ``tmp_dir``; return once it is ready.

    Ready = the IMAP greeting arrives on the port and ``LOGIN user password`` succeeds (which
    also proves auth, the passwd-file and the imap process with its maildir work).  Retries
    with a new port when the chosen one was taken meanwhile.  Raises :class:`DovecotError`
    (with the log tail); binary missing -> message contains ``apt-get install -y dovecot-imapd``.
    ``verbose=True`` adds ``mail_debug``/``auth_debug`` to the log.  ``tmp_dir/run``,
    ``state``, ``mail`` and ``home`` are (re)created empty: one ``tmp_dir`` per server (use
    :meth:`DovecotHarness.restart` to keep a mail store across a restart).
    """
    binary = dovecot_binaries_or_fail()
    _quote_conf(user)
    if ":" in user or ":" in password or any(c.isspace() for c in user + password):
        raise ValueError("user/password must not contain ':' or whitespace (passwd-file)")
    tmp_dir = Path(tmp_dir).absolute()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    for _attempt in range(3):
        try:
            return _start_once(binary, tmp_dir, user, password, verbose)
        except DovecotError as exc:
            last = exc
            if "Address already in use" not in str(exc) and "bind(" not in str(exc):
                raise
    assert last is not None
    raise last


def _start_once(binary: Path, tmp_dir: Path, user: str, password: str, verbose: bool) -> DovecotHarness:
    login_user, internal_user, internal_group, mail_uid, mail_gid = _accounts()
    cleanup: list[Path] = []

    def place(name: str, need_short: bool = False, owner: tuple[int, int] | None = None) -> Path:
        """tmp_dir/name, or a symlink tmp_dir/name -> private /tmp dir when needed."""
        link = tmp_dir / name
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            shutil.rmtree(link)
        target = link
        if need_short and len(str(link)) + _SOCKET_SUFFIX_MAX > _SUN_PATH_MAX:
            target = _short_dir("dcrun-", 0o755)
        elif owner is not None and not _traversable_by(tmp_dir, *owner):
            target = _short_dir("dcmail-", 0o711)
        if target != link:
            cleanup.append(target)
            link.symlink_to(target, target_is_directory=True)
        target.mkdir(parents=True, exist_ok=True)
        return target

    try:
        base_dir = place("run", need_short=True)
        state_dir = place("state")
        mail_owner = (mail_uid, mail_gid) if os.geteuid() == 0 else None
        mail_root = place("mail", owner=mail_owner)
        home_root = place("home", owner=mail_owner)
        for d in (mail_root / user, home_root / user):
            d.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                os.chown(d, mail_uid, mail_gid)
                os.chmod(d, 0o700)
        if os.geteuid() == 0:
            for d in (mail_root, home_root):
                os.chmod(d, 0o711)
    except BaseException:
        for d in cleanup:
            shutil.rmtree(d, ignore_errors=True)
        raise

    passwd_path = tmp_dir / "passwd"
    passwd_path.write_text(f"{user}:{{PLAIN}}{password}::::::\n")
    os.chmod(passwd_path, 0o600)
    log_path = tmp_dir / "dovecot.log"
    with contextlib.suppress(FileNotFoundError):
        log_path.unlink()

    port = _free_port()
    version = dovecot_version(binary)
    conf = _CONF_TEMPLATE.format(
        version=version,
        base_dir=_quote_conf(str(base_dir)),
        state_dir=_quote_conf(str(state_dir)),
        log_path=_quote_conf(str(log_path)),
        port=port,
        login_user=login_user,
        internal_user=internal_user,
        internal_group=internal_group,
        mail_root=_quote_conf(str(mail_root)),
        home_root=_quote_conf(str(home_root)),
        passwd_path=_quote_conf(str(passwd_path)),
        mail_uid=mail_uid,
        mail_gid=mail_gid,
        unprivileged="" if os.geteuid() == 0 else _UNPRIVILEGED_SERVICES,
    )
    if verbose:
        conf += "mail_debug = yes\nauth_debug = yes\n"
    conf_path = tmp_dir / "dovecot.conf"
    conf_path.write_text(conf)

    h = DovecotHarness(
        host=_HOST,
        port=port,
        user=user,
        password=password,
        tmp_dir=tmp_dir,
        conf_path=conf_path,
        log_path=log_path,
        mail_dir=mail_root / user,
        binary=binary,
        _cleanup_dirs=cleanup,
    )
    _LIVE.add(h)
    try:
        h._spawn()
        _wait_ready(h)
    except BaseException:
        h.stop()
        raise
    return h


def _wait_ready(h: DovecotHarness) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    last = "nothing tried"
    while time.monotonic() < deadline:
        h._check_alive()
        fatal = _fatal_lines(h.log_path, h._log_offset)
        if fatal:  # e.g. a chroot/permission problem: dovecot would only retry, throttled
            raise DovecotError(f"Dovecot failed to start: {fatal[0]}\n" + h.log_tail())
        try:
            with socket.create_connection((h.host, h.port), timeout=1) as s:
                s.settimeout(2)
                greeting = s.recv(512)
            if not greeting.startswith(b"* OK"):
                last = f"unexpected greeting {greeting!r}"
            else:
                client = h.connect(timeout=5)
                try:
                    client.select_folder("INBOX")  # proves the imap process can open the maildir
                finally:
                    with contextlib.suppress(Exception):
                        client.logout()
                return
        except (OSError, IMAPClientError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.05)
    text = h.log_tail()
    raise DovecotError(f"Dovecot not ready on {h.host}:{h.port} within {_START_TIMEOUT}s ({last})\n{text}")


@contextlib.contextmanager
def running_dovecot(tmp_dir: Path, **kwargs) -> Iterator[DovecotHarness]:
    """Context manager around :func:`start_dovecot`; always stops the server."""
    h = start_dovecot(tmp_dir, **kwargs)
    try:
        yield h
    finally:
        h.stop()
