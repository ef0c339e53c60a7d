"""Staff tables: the console's users and the failed logins that throttle guessing.

- ``staff_users``: operators, OPD staff and admins. The e-mail is stored lower-cased under a
  unique constraint, so uniqueness is case-insensitive on SQLite and PostgreSQL alike and two
  processes creating the first admin at once cannot both succeed.
- ``login_failures``: one row per refused login, keyed by a hash of the e-mail tried (so the
  table names no one) and by the client address; counted over a sliding window.
- ``staff_audit``: every change to a user (created, role or name changed, deactivated or
  reactivated, password reset or changed): who did it to whom and when, by user id only.
The logic lives in :mod:`complaints.accounts` and :mod:`complaints.staff_admin`; the schema in
migrations 0007 and 0011.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from complaints.models import Base

ROLES = ("admin", "operator", "opd")
"""Staff roles: ``admin`` manages users and does what operators do; ``opd`` sees its own OPD only."""


def _now() -> datetime:
    return datetime.now(UTC)


class StaffUser(Base):
    """A person who logs in to the staff console."""

    __tablename__ = "staff_users"
    __table_args__ = (
        UniqueConstraint("email", name="uq_staff_users_email"),
        CheckConstraint("role IN ('admin', 'operator', 'opd')", name="ck_staff_users_role"),
        # An OPD user always belongs to one OPD; the others to none (their view is city-wide).
        CheckConstraint(
            "(role = 'opd' AND opd_code IS NOT NULL) OR (role <> 'opd' AND opd_code IS NULL)",
            name="ck_staff_users_opd_code",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254))
    """Lower-cased (see :func:`complaints.accounts.normalise_email`)."""
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    opd_code: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)


class LoginFailure(Base):
    """One refused login attempt, counted per account and per address within the lock window."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_account_at", "account", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the normalised e-mail tried (known or not), so unknown accounts throttle alike."""
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=_now)


AUDIT_ACTIONS = (
    "created",
    "role_changed",
    "name_changed",
    "deactivated",
    "reactivated",
    "password_reset",
    "password_changed",
)
"""What ``staff_audit.action`` records."""


class StaffAudit(Base):
    """One change to a staff user: who (``actor_id``, None for the command line) did what to whom, when.

    ``detail`` holds codes only (``operator>opd:dlh`` for a role change), never a name,
    an e-mail or a password, so the table can be shown and exported as it is.
    """

    __tablename__ = "staff_audit"
    __table_args__ = (Index("ix_staff_audit_target_at", "target_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=_now)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    target_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(120))
