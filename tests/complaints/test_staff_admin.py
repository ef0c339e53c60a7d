"""An admin's changes to staff users on SQLite and PostgreSQL: the admin rules, the audit trail, the list."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from complaints.accounts import AccountError, Accounts
from complaints.db import make_engine, upgrade
from complaints.staff import StaffAudit, StaffUser
from complaints.staff_admin import PAGE_SIZE, StaffAdmin, list_users, load_user
from tests.complaints.test_accounts import PASSWORD, Clock, _accounts


@pytest.fixture(params=["sqlite", "postgresql"])
def accounts(request: pytest.FixtureRequest, tmp_path: Path) -> Accounts:
    """Accounts on a migrated database of each kind the project runs on (cheap argon2 parameters)."""
    url = f"sqlite:///{tmp_path / 'staff.sqlite3'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    request.addfinalizer(engine.dispose)
    upgrade(engine)
    return _accounts(engine, Clock())


def _admin(accounts: Accounts, email: str) -> int:
    return accounts.create_user(email=email, name="Admin", role="admin", password=PASSWORD).user.id


def _audit(accounts: Accounts, target_id: int) -> list[tuple[int | None, str, str | None]]:
    with accounts.sf() as session:
        rows = session.scalars(select(StaffAudit).where(StaffAudit.target_id == target_id).order_by(StaffAudit.id))
        return [(r.actor_id, r.action, r.detail) for r in rows]


def test_two_admins_demoting_each_other_at_once_leave_one_admin(accounts: Accounts) -> None:
    """Two admins each demote the other in parallel threads: exactly one succeeds, one admin remains."""
    first, second = _admin(accounts, "a@example.org"), _admin(accounts, "b@example.org")
    admin = StaffAdmin(accounts)
    barrier = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def demote(actor: int, target: int) -> None:
        barrier.wait()
        try:
            admin.update(actor_id=actor, user_id=target, name="Admin", role="operator", opd_code=None)
            outcomes[actor] = "ok"
        except AccountError as exc:
            outcomes[actor] = exc.code

    threads = [threading.Thread(target=demote, args=pair) for pair in ((first, second), (second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == ["last_admin", "ok"]
    with accounts.sf() as session:
        roles = sorted(session.scalars(select(StaffUser.role)))
    assert roles == ["admin", "operator"]


def test_last_admin_rules_and_self_rules(accounts: Accounts) -> None:
    """No one removes the last active admin; an admin never deactivates or demotes themself."""
    boss = _admin(accounts, "a@example.org")
    admin = StaffAdmin(accounts)
    for change in (
        lambda: admin.set_active(actor_id=None, user_id=boss, active=False),
        lambda: admin.update(actor_id=None, user_id=boss, name="Admin", role="opd", opd_code="dlh"),
    ):
        with pytest.raises(AccountError, match="last active admin") as refused:
            change()
        assert refused.value.code == "last_admin"
    second = _admin(accounts, "b@example.org")
    with pytest.raises(AccountError) as refused:
        admin.set_active(actor_id=second, user_id=second, active=False)
    assert refused.value.code == "self_deactivate"
    with pytest.raises(AccountError) as refused:
        admin.update(actor_id=second, user_id=second, name="Admin", role="operator", opd_code=None)
    assert refused.value.code == "self_demote"
    assert admin.set_active(actor_id=boss, user_id=second, active=False) is True
    assert admin.set_active(actor_id=boss, user_id=second, active=False) is False  # nothing to do, nothing recorded
    # An inactive admin is no longer counted: the remaining active one is the last.
    with pytest.raises(AccountError, match="last active admin"):
        admin.set_active(actor_id=None, user_id=boss, active=False)
    assert _audit(accounts, second) == [(None, "created", "admin"), (boss, "deactivated", None)]


def test_update_checks_the_role_rules_of_accounts_and_records_each_change(accounts: Accounts) -> None:
    """Role/OPD rules are the command line's; a role change and a name change are one audit row each."""
    boss = _admin(accounts, "a@example.org")
    ani = accounts.create_user(email="ani@example.org", name="Ani", role="operator", actor_id=boss).user.id
    admin = StaffAdmin(accounts)
    with pytest.raises(AccountError) as refused:
        admin.update(actor_id=boss, user_id=ani, name="Ani", role="opd", opd_code=None)
    assert refused.value.code == "opd_missing"
    with pytest.raises(AccountError) as refused:
        admin.update(actor_id=boss, user_id=ani, name="", role="operator", opd_code=None)
    assert refused.value.code == "name"
    with pytest.raises(AccountError) as refused:
        admin.update(actor_id=boss, user_id=9999, name="X", role="operator", opd_code=None)
    assert refused.value.code == "not_found"
    admin.update(actor_id=boss, user_id=ani, name="Ani Lestari", role="opd", opd_code="dlh")
    admin.update(actor_id=boss, user_id=ani, name="Ani Lestari", role="opd", opd_code="dlh")  # no change: no row
    one_time = admin.reset_password(actor_id=boss, user_id=ani)
    assert accounts.verify_login("ani@example.org", one_time, "10.0.0.1").must_change_password
    assert _audit(accounts, ani) == [
        (boss, "created", "operator"),
        (boss, "role_changed", "operator>opd:dlh"),
        (boss, "name_changed", None),
        (boss, "password_reset", None),
    ]
    with accounts.sf() as session:
        detail = load_user(session, ani)
    assert detail is not None and detail.user.name == "Ani Lestari"
    assert [a.action for a in detail.audit] == ["password_reset", "name_changed", "role_changed", "created"]
    assert {a.actor_name for a in detail.audit} == {"Admin"}


def test_list_filters_by_role_and_opd_and_pages(accounts: Accounts) -> None:
    """The list is by id, PAGE_SIZE a page, with has_next; role and OPD filters combine."""
    boss = _admin(accounts, "a@example.org")
    with accounts.sf.begin() as session:
        for n in range(PAGE_SIZE + 1):
            session.add(
                StaffUser(
                    email=f"s{n}@example.org",
                    name=f"S{n}",
                    role="opd",
                    opd_code="dlh" if n % 2 else "dishub",
                    password_hash="x",
                    created_at=accounts.clock(),
                )
            )
    with accounts.sf() as session:
        first = list_users(session)
        second = list_users(session, page=2)
        dlh = list_users(session, role="opd", opd_code="dlh")
        admins = list_users(session, role="admin")
    assert len(first.users) == PAGE_SIZE and first.has_next and first.users[0].id == boss
    assert len(second.users) == 2 and not second.has_next
    assert len(dlh.users) == 50 and all(u.opd_code == "dlh" for u in dlh.users)
    assert [u.id for u in admins.users] == [boss]


def test_command_line_changes_are_recorded_without_an_actor(accounts: Accounts) -> None:
    """`intake user add` and `passwd` (no actor) and the first admin write audit rows too."""
    first = accounts.ensure_first_admin("admin@localhost")
    assert first is not None
    accounts.create_user(email="ani@example.org", name="Ani", role="opd", opd_code="dinkes")
    accounts.set_password("ani@example.org")
    with accounts.sf() as session:
        rows = session.execute(sa.select(StaffAudit.actor_id, StaffAudit.action, StaffAudit.detail)).all()
    assert sorted((tuple(r) for r in rows), key=str) == sorted(
        [(None, "created", "admin"), (None, "created", "opd:dinkes"), (None, "password_reset", None)], key=str
    )
