"""What an admin does to staff users: list them, change role, OPD or name, deactivate, reset a password.

Built on :class:`complaints.accounts.Accounts` (its e-mail, name, role/OPD and password rules,
its argon2 hasher). Two rules keep the console administrable:

- an admin cannot deactivate themself or take away their own admin role;
- the last active admin cannot be deactivated or demoted, by anyone. The active admins' rows
  are locked (``FOR UPDATE``, in id order) before the check, so on PostgreSQL two admins
  demoting each other at once cannot leave none; SQLite has one writer at a time anyway.

Every change writes a ``staff_audit`` row in the same transaction. Reads take a session (run
them through the acceptor's read thread); writes open their own transaction and hash in the
calling thread, so call them with ``asyncio.to_thread``. Logs name user ids only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints.accounts import AccountError, Accounts, check_name, record_change, role_detail
from complaints.staff import StaffAudit, StaffUser

log = structlog.get_logger(__name__)

PAGE_SIZE = 100
AUDIT_SHOWN = 200  # the newest changes on a user's page; older ones stay in the table


@dataclass(frozen=True, slots=True)
class UserRow:
    """A staff user as the users page shows it (never the password hash)."""

    id: int
    email: str
    name: str
    role: str
    opd_code: str | None
    active: bool
    must_change_password: bool
    last_login_at: datetime | None


@dataclass(frozen=True, slots=True)
class UserPage:
    """One page of the users list and whether another follows."""

    users: list[UserRow]
    has_next: bool


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One recorded change: when, by whom (id and current name; None for the command line), what."""

    at: datetime
    actor_id: int | None
    actor_name: str | None
    action: str
    detail: str | None


@dataclass(frozen=True, slots=True)
class UserDetail:
    """A user and the changes made to them, newest first."""

    user: UserRow
    audit: list[AuditRow]


def _row(user: StaffUser) -> UserRow:
    return UserRow(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        opd_code=user.opd_code,
        active=user.active,
        must_change_password=user.must_change_password,
        last_login_at=user.last_login_at,
    )


def list_users(session: Session, *, role: str = "", opd_code: str = "", page: int = 1) -> UserPage:
    """Users by id, optionally of one role and/or one OPD, ``PAGE_SIZE`` a page."""
    query = select(StaffUser).order_by(StaffUser.id)
    if role:
        query = query.where(StaffUser.role == role)
    if opd_code:
        query = query.where(StaffUser.opd_code == opd_code)
    rows = list(session.scalars(query.offset((max(page, 1) - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return UserPage(users=[_row(u) for u in rows[:PAGE_SIZE]], has_next=len(rows) > PAGE_SIZE)


def load_user(session: Session, user_id: int) -> UserDetail | None:
    """The user ``user_id`` with its audit trail, or None if there is no such user."""
    user = session.get(StaffUser, user_id)
    if user is None:
        return None
    entries = list(
        session.scalars(
            select(StaffAudit)
            .where(StaffAudit.target_id == user_id)
            .order_by(StaffAudit.at.desc(), StaffAudit.id.desc())
            .limit(AUDIT_SHOWN)
        )
    )
    actor_ids = {e.actor_id for e in entries if e.actor_id is not None}
    names: dict[int, str] = {}
    if actor_ids:
        for actor_id, name in session.execute(select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(actor_ids))):
            names[actor_id] = name
    audit = [
        AuditRow(
            at=e.at,
            actor_id=e.actor_id,
            actor_name=names.get(e.actor_id) if e.actor_id is not None else None,
            action=e.action,
            detail=e.detail,
        )
        for e in entries
    ]
    return UserDetail(user=_row(user), audit=audit)


@dataclass
class StaffAdmin:
    """An admin's changes to staff users, checked by the rules of :class:`Accounts` and the admin rules above."""

    accounts: Accounts

    def _target(self, session: Session, user_id: int) -> StaffUser:
        user = session.get(StaffUser, user_id)
        if user is None:
            raise AccountError("no such user", code="not_found")
        return user

    @staticmethod
    def _keep_an_admin(session: Session, user: StaffUser) -> None:
        """:class:`AccountError` if ``user`` is the only active admin (locks the admins' rows first)."""
        admins = session.scalars(
            select(StaffUser.id)
            .where(StaffUser.role == "admin", StaffUser.active.is_(True))
            .order_by(StaffUser.id)
            .with_for_update()
        ).all()
        if list(admins) == [user.id]:
            raise AccountError("the last active admin cannot be demoted or deactivated", code="last_admin")

    def update(self, *, actor_id: int | None, user_id: int, name: str, role: str, opd_code: str | None) -> None:
        """Change a user's name, role and OPD (an OPD exactly when the role is ``opd``)."""
        name = check_name(name)
        self.accounts.check_role(role, opd_code or None)
        opd_code = opd_code or None
        now = self.accounts.clock()
        with self.accounts.sf.begin() as session:
            user = self._target(session, user_id)
            if (user.role, user.opd_code) != (role, opd_code):
                if user.role == "admin" and role != "admin":
                    if actor_id == user.id:
                        raise AccountError("you cannot take away your own admin role", code="self_demote")
                    if user.active:
                        self._keep_an_admin(session, user)
                detail = f"{role_detail(user.role, user.opd_code)}>{role_detail(role, opd_code)}"
                user.role, user.opd_code = role, opd_code
                record_change(
                    session, actor_id=actor_id, target_id=user.id, action="role_changed", detail=detail, at=now
                )
            if user.name != name:
                user.name = name
                record_change(session, actor_id=actor_id, target_id=user.id, action="name_changed", detail=None, at=now)
        log.info("staff user updated", user_id=user_id, actor_id=actor_id, role=role)

    def set_active(self, *, actor_id: int | None, user_id: int, active: bool) -> bool:
        """Deactivate or reactivate a user; returns whether anything changed.

        A deactivated user's sessions end at their next request (the console re-reads the user).
        """
        with self.accounts.sf.begin() as session:
            user = self._target(session, user_id)
            if user.active == active:
                return False
            if not active:
                if actor_id == user.id:
                    raise AccountError("you cannot deactivate yourself", code="self_deactivate")
                if user.role == "admin":
                    self._keep_an_admin(session, user)
            user.active = active
            action = "reactivated" if active else "deactivated"
            record_change(
                session, actor_id=actor_id, target_id=user.id, action=action, detail=None, at=self.accounts.clock()
            )
        log.info("staff user " + ("reactivated" if active else "deactivated"), user_id=user_id, actor_id=actor_id)
        return True

    def reset_password(self, *, actor_id: int | None, user_id: int) -> str:
        """Give the user a new one-time password (returned, to be shown once); their sessions end."""
        with self.accounts.sf() as session:
            email = session.scalar(select(StaffUser.email).where(StaffUser.id == user_id))
        if email is None:
            raise AccountError("no such user", code="not_found")
        one_time = self.accounts.set_password(email, None, actor_id=actor_id)
        assert one_time is not None  # no password given: one is generated
        return one_time
