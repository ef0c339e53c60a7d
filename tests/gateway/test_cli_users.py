"""`intake user ...`, the first admin of `intake serve`, and the session key, as an admin meets them."""

from __future__ import annotations

import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from complaints.accounts import Accounts
from complaints.db import make_engine, session_factory
from config.settings import ConfigurationError
from gateway.secret_key import KEY_FILE, key_file_secret, resolve_secret_key, session_key
from tests.conftest import base_settings
from tests.gateway.test_cli import _clean_env, intake
from tests.support.services import check_redis
from tests.support.system import free_port

ONE_TIME = re.compile(r"one-time password: (\S+)")
PASSWORD = "kata-sandi-rahasia-1"


def _verify(data: Path, email: str, password: str) -> bool:
    """Log in against the SQLite database of DATA_DIR ``data`` the way the console will."""
    engine = make_engine(f"sqlite:///{data / 'intake.sqlite3'}")
    try:
        accounts = Accounts(sf=session_factory(engine), opd_codes=frozenset())
        return accounts.verify_login(email, password, "127.0.0.1").email == email
    finally:
        engine.dispose()


def test_user_add_prints_a_one_time_password_that_logs_in(tmp_path: Path) -> None:
    """`user add --role operator` prints a password once; it logs in; `user list` shows the user, no hash."""
    env = {"DATA_DIR": str(tmp_path)}
    result = intake("user", "add", "--role", "operator", "--email", "Ani@BogorKota.go.id", "--name", "Ani", env=env)
    assert result.returncode == 0, result.stderr
    assert "added operator #1 ani@bogorkota.go.id" in result.stdout
    [password] = ONE_TIME.findall(result.stdout)
    assert password not in result.stderr and "ani@" not in result.stderr.lower()
    assert _verify(tmp_path, "ani@bogorkota.go.id", password)
    listing = intake("user", "list", env=env)
    assert listing.returncode == 0, listing.stderr
    assert re.search(r"1\s+operator\s+-\s+new\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+ani@bogorkota.go.id / Ani", listing.stdout)
    assert "$argon2" not in listing.stdout


def test_user_add_opd_and_passwd_from_stdin(tmp_path: Path) -> None:
    """An opd user with --opd and a password from stdin; `user passwd` gives a new one-time password."""
    env = {"DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "user", "add", "--role", "opd", "--email", "dlh@bogorkota.go.id"]
        + ["--name", "Staf DLH", "--opd", "dlh", "--password-stdin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env={**_clean_env(), **env},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "added opd of OPD dlh #1" in result.stdout and "one-time password" not in result.stdout
    assert _verify(tmp_path, "dlh@bogorkota.go.id", PASSWORD)
    reset = intake("user", "passwd", "--email", "DLH@bogorkota.go.id", env=env)
    assert reset.returncode == 0, reset.stderr
    [new] = ONE_TIME.findall(reset.stdout)
    assert _verify(tmp_path, "dlh@bogorkota.go.id", new)
    assert "dlh  " in intake("user", "list", env=env).stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--role", "opd", "--email", "x@bogorkota.go.id", "--name", "X"], "needs the code of its OPD (--opd)"),
        (["--role", "opd", "--email", "x@bogorkota.go.id", "--name", "X", "--opd", "dlhh"], "unknown OPD code 'dlhh'"),
        (["--role", "operator", "--email", "Ani@bogorkota.go.id", "--name", "X"], "exists already"),
        (["--role", "admin", "--email", "nobody", "--name", "X"], "not an e-mail address"),
    ],
)
def test_user_add_refuses_with_a_clear_message(tmp_path: Path, args: list[str], says: str) -> None:
    """Missing or unknown OPD, a duplicate e-mail (any case) and a bad e-mail exit 1 saying why."""
    env = {"DATA_DIR": str(tmp_path)}
    first = intake("user", "add", "--role", "operator", "--email", "ani@bogorkota.go.id", "--name", "Ani", env=env)
    assert first.returncode == 0, first.stderr
    result = intake("user", "add", *args, env=env)
    assert result.returncode == 1 and says in result.stderr


def test_user_passwd_of_an_unknown_user_says_so(tmp_path: Path) -> None:
    """`user passwd` for an e-mail nobody has exits 1."""
    result = intake("user", "passwd", "--email", "nobody@bogorkota.go.id", env={"DATA_DIR": str(tmp_path)})
    assert result.returncode == 1 and "no user with this e-mail" in result.stderr


def _serve_once(tmp_path: Path, data: Path, env: dict[str, str] | None = None) -> str:
    """Start `intake serve`, read its banner, stop it with SIGTERM; return everything it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.log").open("a"),
        text=True,
        env={**_clean_env(), "DATA_DIR": str(data), **(env or {})},
    )
    assert proc.stdout is not None
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "/readyz  readiness" in line:
                break
        assert lines, (tmp_path / "stderr.log").read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, (tmp_path / "stderr.log").read_text()
    output = "".join(lines) + rest
    assert output.rstrip().endswith("intake: stopping")
    return output


def test_first_start_prints_the_admin_password_once_and_makes_the_key_once(tmp_path: Path) -> None:
    """Two starts: the first creates admin@localhost and prints its password; the second prints none; one key file."""
    data = tmp_path / "data"
    first = _serve_once(tmp_path, data)
    assert "first start: created the admin user admin@localhost" in first
    [password] = ONE_TIME.findall(first)
    assert password not in (tmp_path / "stderr.log").read_text()
    key_file = data / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    second = _serve_once(tmp_path, data)
    assert "one-time password" not in second and "admin" not in second
    assert key_file.read_text() == key
    assert _verify(data, "admin@localhost", password)


def test_admin_email_and_secret_key_settings_are_used(tmp_path: Path) -> None:
    """ADMIN_EMAIL names the first admin; with SECRET_KEY set no key file is written."""
    data = tmp_path / "data"
    env = {"ADMIN_EMAIL": "kominfo@bogorkota.go.id", "SECRET_KEY": "k" * 40}
    output = _serve_once(tmp_path, data, env)
    assert "created the admin user kominfo@bogorkota.go.id" in output
    assert not (data / KEY_FILE).exists()


def test_distributed_gateway_refuses_to_start_without_secret_key(tmp_path: Path) -> None:
    """`intake gateway` with REDIS_URL but no SECRET_KEY exits 2 and says how to make a key."""
    result = intake("gateway", "--port", "0", env={"DATA_DIR": str(tmp_path), "REDIS_URL": check_redis()})
    assert result.returncode == 2
    assert "SECRET_KEY is not set" in result.stderr and "secrets.token_urlsafe(32)" in result.stderr
    assert "serving on" not in result.stdout and not (tmp_path / KEY_FILE).exists()


def test_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    """The embedded key is made once (0600), read back the same, and gives a 32-byte session key."""
    settings = base_settings(tmp_path)
    first = resolve_secret_key(settings, distributed=False)
    path = settings.data_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) == 32
    assert resolve_secret_key(settings, distributed=False) == first
    assert key_file_secret(settings.data_dir) == path.read_text().strip()
    assert [p.name for p in settings.data_dir.iterdir()] == [KEY_FILE]  # no temporary file left behind


def test_secret_key_setting_wins_and_must_be_long(tmp_path: Path) -> None:
    """SECRET_KEY is used as given (no file); a short one is refused in either mode."""
    settings = base_settings(tmp_path, secret_key="s" * 32)
    assert resolve_secret_key(settings, distributed=True) == session_key("s" * 32)
    assert not (settings.data_dir / KEY_FILE).exists()
    with pytest.raises(ConfigurationError, match="shorter than 32 characters"):
        resolve_secret_key(base_settings(tmp_path, secret_key="short"), distributed=False)
    (settings.data_dir).mkdir(parents=True)
    (settings.data_dir / KEY_FILE).write_text("tiny\n")
    with pytest.raises(ConfigurationError, match="shorter than 32 characters"):
        resolve_secret_key(base_settings(tmp_path), distributed=False)
