"""Staff accounts: creation rules, argon2 hashes, logins, throttling per account and per address, first admin."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from structlog.testing import capture_logs

from complaints.accounts import (
    AccountError,
    Accounts,
    InvalidCredentials,
    LoginLimits,
    LoginThrottled,
)
from complaints.db import make_engine, read_session_factory, session_factory, upgrade
from complaints.staff import LoginFailure, StaffUser

OPDS = frozenset({"dlh", "dishub", "dinkes"})
PASSWORD = "kata-sandi-rahasia-1"
START = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class CountingHasher(PasswordHasher):
    """Cheap argon2 parameters for speed, counting how often a hash is verified."""

    def __init__(self, time_cost: int = 1) -> None:
        super().__init__(time_cost=time_cost, memory_cost=1024, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:  # noqa: A002 - argon2's own name
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> sa.Engine:
    """A migrated database of each kind the project runs on."""
    url = f"sqlite:///{tmp_path / 'staff.sqlite3'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    request.addfinalizer(engine.dispose)
    upgrade(engine)
    return engine


@pytest.fixture
def clock() -> Clock:
    """The frozen clock every Accounts of a test reads."""
    return Clock()


def _accounts(engine: sa.Engine, clock: Clock, hasher: PasswordHasher | None = None, **limits: object) -> Accounts:
    return Accounts(
        sf=session_factory(engine),
        read_sf=read_session_factory(engine),
        opd_codes=OPDS,
        limits=LoginLimits(**limits),  # type: ignore[arg-type]
        hasher=hasher or CountingHasher(),
        clock=clock,
    )


@pytest.fixture
def accounts(engine: sa.Engine, clock: Clock) -> Accounts:
    """Accounts with the default limits (5 per account, 20 per address, 15 minutes)."""
    return _accounts(engine, clock)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"role": "opd"}, "needs the code of its OPD"),
        ({"role": "operator", "opd_code": "dlh"}, "only opd users belong to an OPD"),
        ({"role": "opd", "opd_code": "dlhh"}, "unknown OPD code 'dlhh'"),
        ({"role": "superuser"}, "unknown role"),
        ({"role": "operator", "email": "not-an-address"}, "not an e-mail address"),
        ({"role": "operator", "name": "  "}, "the name must have"),
        ({"role": "operator", "password": "short"}, "at least 10 characters"),
    ],
)
def test_creation_rules_refuse_with_a_clear_message(accounts: Accounts, fields: dict[str, str], says: str) -> None:
    """Role, OPD code, e-mail, name and password are checked before anything is stored."""
    values = {"email": "ani@bogorkota.go.id", "name": "Ani", **fields}
    with pytest.raises(AccountError, match=says):
        accounts.create_user(**values)
    assert accounts.list_users() == []


def test_email_is_unique_whatever_its_case(accounts: Accounts) -> None:
    """A second user with the same e-mail in other letters is refused; the stored e-mail is lower-case."""
    first = accounts.create_user(email=" Ani@BogorKota.go.id ", name="Ani", role="opd", opd_code="dlh")
    assert first.user.email == "ani@bogorkota.go.id"
    with pytest.raises(AccountError, match="exists already"):
        accounts.create_user(email="ANI@bogorkota.go.id", name="Ani 2", role="operator")
    assert [u.email for u in accounts.list_users()] == ["ani@bogorkota.go.id"]


def test_passwords_are_stored_as_argon2id_hashes(accounts: Accounts) -> None:
    """A generated one-time password must be changed; a chosen one need not; neither is stored in clear."""
    generated = accounts.create_user(email="op@bogorkota.go.id", name="Operator", role="operator")
    chosen = accounts.create_user(email="admin2@bogorkota.go.id", name="Admin", role="admin", password=PASSWORD)
    assert generated.one_time_password is not None and len(generated.one_time_password) == 16
    assert chosen.one_time_password is None
    users = {u.email: u for u in accounts.list_users()}
    assert users["op@bogorkota.go.id"].must_change_password is True
    assert users["admin2@bogorkota.go.id"].must_change_password is False
    for user, password in ((users["op@bogorkota.go.id"], generated.one_time_password), (chosen.user, PASSWORD)):
        assert user.password_hash.startswith("$argon2id$") and password not in user.password_hash


def test_right_password_logs_in_and_records_the_time(accounts: Accounts, clock: Clock) -> None:
    """verify_login returns the user (any e-mail case) and sets last_login_at."""
    accounts.create_user(email="ani@bogorkota.go.id", name="Ani", role="opd", opd_code="dlh", password=PASSWORD)
    user = accounts.verify_login("ANI@bogorkota.go.id", PASSWORD, "10.0.0.1")
    assert (user.email, user.role, user.opd_code) == ("ani@bogorkota.go.id", "opd", "dlh")
    assert accounts.list_users()[0].last_login_at == START


def test_wrong_password_and_unknown_email_are_refused_alike(accounts: Accounts) -> None:
    """Both raise InvalidCredentials with one message, and both verify an argon2 hash (same work, same time)."""
    hasher = accounts.hasher
    assert isinstance(hasher, CountingHasher)
    accounts.create_user(email="ani@bogorkota.go.id", name="Ani", role="operator", password=PASSWORD)
    messages = []
    for email in ("ani@bogorkota.go.id", "nobody@bogorkota.go.id"):
        before = hasher.verified
        with pytest.raises(InvalidCredentials) as refused:
            accounts.verify_login(email, "wrong-password-1", "10.0.0.1")
        assert hasher.verified == before + 1
        messages.append(str(refused.value))
    assert messages[0] == messages[1] == "wrong e-mail or password"


def test_a_deactivated_user_cannot_log_in(accounts: Accounts, engine: sa.Engine) -> None:
    """active = false refuses even the right password, with the same message as a wrong one."""
    accounts.create_user(email="ani@bogorkota.go.id", name="Ani", role="operator", password=PASSWORD)
    with engine.begin() as conn:
        conn.execute(sa.update(StaffUser).values(active=False))
    with pytest.raises(InvalidCredentials):
        accounts.verify_login("ani@bogorkota.go.id", PASSWORD, "10.0.0.1")


def test_five_failures_lock_the_account_from_every_address_until_the_window_moves(
    accounts: Accounts, clock: Clock
) -> None:
    """After 5 refusals (from different addresses) even the right password waits; 15 minutes later it works."""
    accounts.create_user(email="ani@bogorkota.go.id", name="Ani", role="operator", password=PASSWORD)
    for i in range(5):
        clock.now = START + timedelta(minutes=i)
        with pytest.raises(InvalidCredentials):
            accounts.verify_login("ani@bogorkota.go.id", "wrong-password-1", f"10.0.0.{i}")
    clock.now = START + timedelta(minutes=5)
    with pytest.raises(LoginThrottled) as locked:
        accounts.verify_login("ani@bogorkota.go.id", PASSWORD, "10.9.9.9")
    # The oldest of the five (at START) leaves the 15-minute window at START + 15 min.
    assert locked.value.retry_after == timedelta(minutes=10)
    assert "try again in 10 minute(s)" in str(locked.value)
    clock.now = START + timedelta(minutes=15)
    assert accounts.verify_login("ani@bogorkota.go.id", PASSWORD, "10.9.9.9").email == "ani@bogorkota.go.id"


def test_an_unknown_email_is_throttled_like_a_real_one(accounts: Accounts) -> None:
    """Guessing at an e-mail that does not exist locks too, so the lock does not reveal which e-mails exist."""
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            accounts.verify_login("nobody@bogorkota.go.id", "wrong-password-1", "10.0.0.1")
    with pytest.raises(LoginThrottled):
        accounts.verify_login("nobody@bogorkota.go.id", "wrong-password-1", "10.0.0.2")


def test_twenty_failures_from_one_address_lock_that_address_only(accounts: Accounts, clock: Clock) -> None:
    """Spraying many accounts from one address locks the address; the same user elsewhere still logs in."""
    accounts.create_user(email="ani@bogorkota.go.id", name="Ani", role="operator", password=PASSWORD)
    for i in range(20):
        with pytest.raises(InvalidCredentials):
            accounts.verify_login(f"guess{i}@bogorkota.go.id", "wrong-password-1", "203.0.113.7")
    with pytest.raises(LoginThrottled):
        accounts.verify_login("ani@bogorkota.go.id", PASSWORD, "203.0.113.7")
    assert accounts.verify_login("ani@bogorkota.go.id", PASSWORD, "198.51.100.1").email == "ani@bogorkota.go.id"


def test_limits_come_from_the_settings(engine: sa.Engine, clock: Clock) -> None:
    """LOGIN_MAX_FAILURES_PER_ACCOUNT=2 locks after two refusals."""
    accounts = _accounts(engine, clock, per_account=2)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            accounts.verify_login("ani@bogorkota.go.id", "wrong-password-1", "10.0.0.1")
    with pytest.raises(LoginThrottled):
        accounts.verify_login("ani@bogorkota.go.id", "wrong-password-1", "10.0.0.1")


def test_a_successful_login_clears_the_account_count(accounts: Accounts, engine: sa.Engine) -> None:
    """4 failures, a success, 4 failures, a success: never locked; the account's failures are gone."""
    accounts.create_user(email="ani@bogorkota.go.id", name="Ani", role="operator", password=PASSWORD)
    for _round in range(2):
        for _ in range(4):
            with pytest.raises(InvalidCredentials):
                accounts.verify_login("ani@bogorkota.go.id", "wrong-password-1", "10.0.0.1")
        accounts.verify_login("ani@bogorkota.go.id", PASSWORD, "10.0.0.1")
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(LoginFailure)) == 0


def test_set_password_replaces_the_hash_and_lifts_the_lock(accounts: Accounts) -> None:
    """An admin's reset gives a one-time password that works at once, even on a locked account."""
    accounts.create_user(email="ani@bogorkota.go.id", name="Ani", role="operator", password=PASSWORD)
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            accounts.verify_login("ani@bogorkota.go.id", "wrong-password-1", "10.0.0.1")
    one_time = accounts.set_password("Ani@bogorkota.go.id")
    assert one_time is not None
    user = accounts.verify_login("ani@bogorkota.go.id", one_time, "10.0.0.2")
    assert user.must_change_password is True
    with pytest.raises(InvalidCredentials):
        accounts.verify_login("ani@bogorkota.go.id", PASSWORD, "10.0.0.2")
    with pytest.raises(AccountError, match="no user with this e-mail"):
        accounts.set_password("nobody@bogorkota.go.id", PASSWORD)


def test_an_old_hash_is_upgraded_at_the_next_login(engine: sa.Engine, clock: Clock) -> None:
    """A hash made with weaker parameters is replaced by one with the current parameters when the user logs in."""
    _accounts(engine, clock, hasher=CountingHasher(time_cost=1)).create_user(
        email="ani@bogorkota.go.id", name="Ani", role="operator", password=PASSWORD
    )
    stronger = _accounts(engine, clock, hasher=CountingHasher(time_cost=2))
    old = stronger.list_users()[0].password_hash
    stronger.verify_login("ani@bogorkota.go.id", PASSWORD, "10.0.0.1")
    new = stronger.list_users()[0].password_hash
    assert "t=1," in old and "t=2," in new
    assert stronger.verify_login("ani@bogorkota.go.id", PASSWORD, "10.0.0.1").password_hash == new


def test_logs_name_the_user_id_never_the_email_or_password(accounts: Accounts) -> None:
    """Creating, a refused and a good login log events with user_id only."""
    with capture_logs() as logs:
        created = accounts.create_user(email="ani@bogorkota.go.id", name="Ani", role="operator", password=PASSWORD)
        with pytest.raises(InvalidCredentials):
            accounts.verify_login("ani@bogorkota.go.id", "wrong-password-1", "10.0.0.1")
        accounts.verify_login("ani@bogorkota.go.id", PASSWORD, "10.0.0.1")
    assert [e["event"] for e in logs] == ["staff user created", "staff login refused", "staff login"]
    assert all(e["user_id"] == created.user.id for e in logs)
    text = repr(logs)
    assert "ani@" not in text and PASSWORD not in text and "wrong-password" not in text


def test_first_admin_is_created_once(accounts: Accounts) -> None:
    """An empty database gets the admin with a one-time password; the next start gets None."""
    password = accounts.ensure_first_admin("admin@localhost")
    assert password is not None
    assert accounts.ensure_first_admin("admin@localhost") is None
    [admin] = accounts.list_users()
    assert (admin.email, admin.role, admin.must_change_password) == ("admin@localhost", "admin", True)
    assert accounts.verify_login("admin@localhost", password, "127.0.0.1").id == admin.id


def test_no_first_admin_when_a_user_exists(accounts: Accounts) -> None:
    """`intake user add` before the first start: no admin is invented."""
    accounts.create_user(email="op@bogorkota.go.id", name="Operator", role="operator")
    assert accounts.ensure_first_admin("admin@localhost") is None
    assert [u.role for u in accounts.list_users()] == ["operator"]


def test_two_processes_starting_at_once_create_one_admin(engine: sa.Engine, clock: Clock) -> None:
    """Two starts racing on one database: exactly one creates the admin and gets a password."""
    url = engine.url.render_as_string(hide_password=False)
    engines = [make_engine(url) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[str | None] = []

    def start(own: sa.Engine) -> None:
        accounts = _accounts(own, clock)
        barrier.wait()
        results.append(accounts.ensure_first_admin("admin@localhost"))

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for own in engines:
        own.dispose()
    assert len(results) == 2 and len([r for r in results if r]) == 1
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(StaffUser)) == 1


def test_migration_0007_goes_down_and_up_again(engine: sa.Engine) -> None:
    """Downgrading to 0006 (past 0008, the case version) drops the staff tables; upgrading brings them back empty."""
    from alembic import command

    from complaints.db import alembic_config

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    assert not {"staff_users", "login_failures"} & set(sa.inspect(engine).get_table_names())
    upgrade(engine)
    assert {"staff_users", "login_failures"} <= set(sa.inspect(engine).get_table_names())
