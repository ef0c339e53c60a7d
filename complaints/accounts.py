"""Staff accounts: creating users, setting passwords, and checking a login with throttling.

Passwords are hashed with argon2id (argon2-cffi's :class:`PasswordHasher`); a hash made with
older parameters is replaced at the next successful login. A login for an unknown e-mail
verifies the password against a dummy hash, so the answer takes as long as for a real
account and the timing does not tell which e-mails exist. Refused logins are counted per
account (a hash of the e-mail tried) and per client address over ``LOGIN_LOCK_MINUTES``;
past either limit the login is refused without checking the password until the window moves.

Hashing takes tens of milliseconds of CPU on purpose: callers on an event loop run these
methods in a thread. Logs name the user id, never the e-mail or the password.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from complaints.staff import ROLES, LoginFailure, StaffAudit, StaffUser
from config.settings import Settings

log = structlog.get_logger(__name__)

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 hashes anything, but a megabyte "password" is only load
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class AccountError(ValueError):
    """A user cannot be created or changed as asked; the message says why (safe to show an admin).

    ``code`` names the reason for pages that say it in their own language (the console's strings
    ``users_err_<code>``); the message is the command line's English.
    """

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


class LoginRefused(Exception):
    """A login was refused; the message is safe to show on the login page."""


class InvalidCredentials(LoginRefused):
    """Wrong e-mail or password (or a deactivated account: the page does not say which)."""

    def __init__(self) -> None:
        super().__init__("wrong e-mail or password")


class LoginThrottled(LoginRefused):
    """Too many refused logins for this account or from this address; try again after ``retry_after``."""

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = retry_after
        minutes = max(1, -(-int(retry_after.total_seconds()) // 60))
        super().__init__(f"too many failed logins; try again in {minutes} minute(s)")


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """How many refused logins per account and per address are allowed within ``window``."""

    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimits:
        """The limits of LOGIN_MAX_FAILURES_PER_ACCOUNT / _PER_ADDRESS and LOGIN_LOCK_MINUTES."""
        return cls(
            per_account=settings.login_max_failures_per_account,
            per_address=settings.login_max_failures_per_address,
            window=timedelta(minutes=settings.login_lock_minutes),
        )


@dataclass(frozen=True, slots=True)
class CreatedUser:
    """A new user, with the one-time password when one was generated (shown once, never stored)."""

    user: StaffUser
    one_time_password: str | None


def normalise_email(email: str) -> str:
    """The e-mail as stored and looked up: trimmed and lower-cased; :class:`AccountError` if it is not one."""
    value = email.strip().lower()
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise AccountError("not an e-mail address", code="email")
    return value


def account_key(email: str) -> str:
    """What ``login_failures`` records for an e-mail tried: a hash, so the table names no one."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def generate_password() -> str:
    """A one-time password: 16 URL-safe characters (96 random bits), easy to copy from a terminal."""
    return secrets.token_urlsafe(12)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def check_name(name: str) -> str:
    """The name as stored (trimmed); :class:`AccountError` unless it has 1 to 200 characters."""
    value = name.strip()
    if not value or len(value) > 200:
        raise AccountError("the name must have 1 to 200 characters", code="name")
    return value


def record_change(
    session: Session, *, actor_id: int | None, target_id: int, action: str, detail: str | None, at: datetime
) -> None:
    """Add a ``staff_audit`` row in the caller's transaction (ids and codes only, never names or e-mails)."""
    session.add(StaffAudit(at=at, actor_id=actor_id, target_id=target_id, action=action, detail=detail))


def role_detail(role: str, opd_code: str | None) -> str:
    """How a role is written in ``staff_audit.detail``: ``operator``, ``opd:dlh``."""
    return f"{role}:{opd_code}" if opd_code else role


@dataclass
class Accounts:
    """Staff users in one database, checked against the city's OPD codes."""

    sf: sessionmaker[Session]
    opd_codes: Collection[str]
    limits: LoginLimits = field(default_factory=LoginLimits)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    clock: Callable[[], datetime] = _utcnow
    read_sf: sessionmaker[Session] | None = None
    """Read-only sessions (on SQLite they do not hold the write lock while a password is hashed)."""

    @cached_property
    def _dummy_hash(self) -> str:
        # Hashed with the same parameters as real ones, so an unknown e-mail costs the same time.
        return self.hasher.hash(secrets.token_urlsafe(16))

    def _check_password(self, password: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters", code="password")
        if len(password) > MAX_PASSWORD_LENGTH:
            raise AccountError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters", code="password")

    def check_role(self, role: str, opd_code: str | None) -> None:
        """:class:`AccountError` unless ``role`` is known and has an OPD of the city exactly when it is ``opd``."""
        if role not in ROLES:
            raise AccountError(f"unknown role {role!r}; use one of {', '.join(ROLES)}", code="role")
        if role == "opd" and not opd_code:
            raise AccountError("an opd user needs the code of its OPD (--opd)", code="opd_missing")
        if role != "opd" and opd_code:
            raise AccountError(f"only opd users belong to an OPD; a {role} sees every OPD", code="opd_not_allowed")
        if opd_code and opd_code not in self.opd_codes:
            raise AccountError(
                f"unknown OPD code {opd_code!r}; the codes are in the city's opd.yaml", code="opd_unknown"
            )

    def create_user(
        self,
        *,
        email: str,
        name: str,
        role: str,
        opd_code: str | None = None,
        password: str | None = None,
        actor_id: int | None = None,
    ) -> CreatedUser:
        """Add a user. Without ``password`` a one-time password is generated and must be changed at first login.

        ``actor_id`` is the admin who adds the user (None: the command line); the audit row says so.
        """
        address = normalise_email(email)
        name = check_name(name)
        self.check_role(role, opd_code)
        one_time = None
        if password is None:
            password = one_time = generate_password()
        self._check_password(password)
        user = StaffUser(
            email=address,
            name=name,
            role=role,
            opd_code=opd_code,
            password_hash=self.hasher.hash(password),
            must_change_password=one_time is not None,
            active=True,
            created_at=self.clock(),
        )
        try:
            with self.sf.begin() as session:
                session.add(user)
                session.flush()  # the id, for the audit row
                detail = role_detail(role, opd_code)
                record_change(
                    session, actor_id=actor_id, target_id=user.id, action="created", detail=detail, at=user.created_at
                )
        except IntegrityError:
            raise AccountError("a user with this e-mail exists already", code="email_taken") from None
        log.info("staff user created", user_id=user.id, role=role, actor_id=actor_id)
        return CreatedUser(user=user, one_time_password=one_time)

    def set_password(self, email: str, password: str | None = None, *, actor_id: int | None = None) -> str | None:
        """Replace a user's password; without one, generate a one-time password (returned) to be changed at login.

        ``actor_id`` is who did it: the user themself, an admin's reset, or None for the command line.
        """
        address = normalise_email(email)
        one_time = None
        if password is None:
            password = one_time = generate_password()
        self._check_password(password)
        new_hash = self.hasher.hash(password)
        with self.sf.begin() as session:
            user = session.scalar(select(StaffUser).where(StaffUser.email == address))
            if user is None:
                raise AccountError("no user with this e-mail", code="not_found")
            user.password_hash = new_hash
            user.must_change_password = one_time is not None
            # A reset also lifts the account's lock: the admin vouched for the person.
            session.execute(delete(LoginFailure).where(LoginFailure.account == account_key(address)))
            user_id = user.id
            action = "password_reset" if one_time is not None else "password_changed"
            record_change(session, actor_id=actor_id, target_id=user_id, action=action, detail=None, at=self.clock())
        log.info("staff password set", user_id=user_id, one_time=one_time is not None, actor_id=actor_id)
        return one_time

    def list_users(self) -> list[StaffUser]:
        """Every user, by id."""
        with (self.read_sf or self.sf)() as session:
            return list(session.scalars(select(StaffUser).order_by(StaffUser.id)))

    def ensure_first_admin(self, email: str) -> str | None:
        """On a database without staff users, create the admin and return its one-time password; else ``None``.

        Two processes starting at once both see no user; the unique e-mail lets only one insert,
        so the password is printed by exactly one of them.
        """
        address = normalise_email(email)
        with (self.read_sf or self.sf)() as session:
            if session.scalar(select(StaffUser.id).limit(1)) is not None:
                return None
        password = generate_password()
        user = StaffUser(
            email=address,
            name="Administrator",
            role="admin",
            opd_code=None,
            password_hash=self.hasher.hash(password),
            must_change_password=True,
            active=True,
            created_at=self.clock(),
        )
        try:
            with self.sf.begin() as session:
                if session.scalar(select(StaffUser.id).limit(1)) is not None:
                    return None
                session.add(user)
                session.flush()
                record_change(
                    session, actor_id=None, target_id=user.id, action="created", detail="admin", at=user.created_at
                )
        except IntegrityError:
            return None
        log.info("first admin created", user_id=user.id)
        return password

    def _wait(
        self, session: Session, column: InstrumentedAttribute[str], value: str, limit: int, now: datetime
    ) -> timedelta:
        """How long until fewer than ``limit`` failures of ``column == value`` remain in the window."""
        nth = session.scalar(
            select(LoginFailure.at)
            .where(column == value, LoginFailure.at > now - self.limits.window)
            .order_by(LoginFailure.at.desc())
            .offset(max(limit, 1) - 1)
            .limit(1)
        )
        return nth + self.limits.window - now if nth is not None else timedelta(0)

    def verify_login(self, email: str, password: str, address: str) -> StaffUser:
        """Return the user if ``password`` is right; raise :class:`InvalidCredentials` or :class:`LoginThrottled`."""
        now = self.clock()
        tried = email.strip().lower()
        key = account_key(tried)
        address = (address or "unknown")[:64]
        with (self.read_sf or self.sf)() as session:
            wait = max(
                self._wait(session, LoginFailure.account, key, self.limits.per_account, now),
                self._wait(session, LoginFailure.address, address, self.limits.per_address, now),
            )
            user = None if wait else session.scalar(select(StaffUser).where(StaffUser.email == tried))
        if wait:
            log.info("staff login throttled", user_id=user.id if user else None)
            raise LoginThrottled(wait)
        ok = self._verify(user.password_hash if user else self._dummy_hash, password)
        if user is None or not ok or not user.active:
            with self.sf.begin() as session:
                session.add(LoginFailure(account=key, address=address, at=now))
                # Old rows no longer count for anything; dropping them here keeps the table small.
                session.execute(delete(LoginFailure).where(LoginFailure.at <= now - self.limits.window))
            log.info("staff login refused", user_id=user.id if user else None)
            raise InvalidCredentials()
        rehash = self.hasher.hash(password) if self.hasher.check_needs_rehash(user.password_hash) else None
        with self.sf.begin() as session:
            stored = session.get(StaffUser, user.id)
            assert stored is not None  # users are deactivated, never deleted
            stored.last_login_at = now
            if rehash is not None:
                stored.password_hash = rehash
            session.execute(delete(LoginFailure).where(LoginFailure.account == key))
        log.info("staff login", user_id=user.id, rehashed=rehash is not None)
        return stored

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password[: MAX_PASSWORD_LENGTH + 1])
        except (VerificationError, InvalidHashError):
            return False
