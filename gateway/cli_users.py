"""``intake user add|passwd|list``: staff users of the console, and the first admin at start-up."""

from __future__ import annotations

import argparse
import sys

from complaints.accounts import AccountError, Accounts, LoginLimits
from complaints.db import make_engine, read_session_factory, session_factory, upgrade
from complaints.staff import ROLES
from config.loader import load_city_config
from config.logging import configure_logging
from config.settings import Settings, load_settings
from workers.runtime import Runtime

ONE_TIME_NOTE = "(shown once; it must be changed at the first login)"


def accounts_for_runtime(runtime: Runtime) -> Accounts:
    """The accounts of a running system's database, checked against its loaded city config."""
    return Accounts(
        sf=runtime.sf,
        read_sf=runtime.read_sf,
        opd_codes=frozenset(runtime.config.opds),
        limits=LoginLimits.from_settings(runtime.settings),
    )


def first_admin_lines(runtime: Runtime) -> list[str]:
    """Banner lines for a database without staff users: the new admin and its one-time password, once."""
    settings = runtime.settings
    password = accounts_for_runtime(runtime).ensure_first_admin(settings.admin_email)
    if password is None:
        return []
    return [
        f"  first start: created the admin user {settings.admin_email}",
        f"  one-time password: {password}  {ONE_TIME_NOTE}",
    ]


def _accounts(settings: Settings) -> Accounts:
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)  # `user add` may come before `db upgrade` on a fresh install
    config = load_city_config(settings.config_dir, home_region=settings.region_code)
    return Accounts(
        sf=session_factory(engine),
        read_sf=read_session_factory(engine),
        opd_codes=frozenset(config.opds),
        limits=LoginLimits.from_settings(settings),
    )


def _load_settings() -> Settings:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)  # logs to stderr, so stdout stays the answer
    return settings


def _password_from_stdin(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    return sys.stdin.readline().rstrip("\r\n")


def cmd_user_add(args: argparse.Namespace) -> int:
    """Add a staff user; print the generated one-time password (or take one from stdin)."""
    settings = _load_settings()
    try:
        created = _accounts(settings).create_user(
            email=args.email,
            name=args.name,
            role=args.role,
            opd_code=args.opd,
            password=_password_from_stdin(args),
        )
    except AccountError as exc:
        print(f"intake user add: {exc}", file=sys.stderr)
        return 1
    user = created.user
    where = f" of OPD {user.opd_code}" if user.opd_code else ""
    print(f"intake user: added {user.role}{where} #{user.id} {user.email}")
    if created.one_time_password:
        print(f"  one-time password: {created.one_time_password}  {ONE_TIME_NOTE}")
    return 0


def cmd_user_passwd(args: argparse.Namespace) -> int:
    """Reset a user's password: a new one-time password is printed (or the one from stdin is set)."""
    settings = _load_settings()
    try:
        one_time = _accounts(settings).set_password(args.email, _password_from_stdin(args))
    except AccountError as exc:
        print(f"intake user passwd: {exc}", file=sys.stderr)
        return 1
    print("intake user: password changed")
    if one_time:
        print(f"  one-time password: {one_time}  {ONE_TIME_NOTE}")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    """List the users (never their password hashes)."""
    users = _accounts(_load_settings()).list_users()
    print(f"{'id':>4}  {'role':<8}  {'opd':<12}  {'state':<8}  {'last login':<16}  e-mail / name")
    for user in users:
        state = "active" if user.active else "inactive"
        if user.active and user.must_change_password:
            state = "new"
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
        opd = user.opd_code or "-"
        print(f"{user.id:>4}  {user.role:<8}  {opd:<12}  {state:<8}  {last:<16}  {user.email} / {user.name}")
    return 0


def add_user_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``user add``, ``user passwd`` and ``user list`` on the ``intake`` parser."""
    parser = sub.add_parser("user", help="staff users of the console", description="staff users of the console")
    commands = parser.add_subparsers(dest="user_command", required=True)
    add = commands.add_parser(
        "add", help="add a staff user", description="add a staff user; prints a one-time password"
    )
    add.add_argument("--role", required=True, choices=ROLES, help="admin, operator, or opd (needs --opd)")
    add.add_argument("--email", required=True, help="the login e-mail (case does not matter)")
    add.add_argument("--name", required=True, help="the person's name as staff see it")
    add.add_argument("--opd", help="the OPD code from the city's opd.yaml (role opd only)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin instead")
    add.set_defaults(func=cmd_user_add)
    passwd = commands.add_parser(
        "passwd", help="reset a user's password", description="reset a user's password; prints a one-time password"
    )
    passwd.add_argument("--email", required=True, help="the user's login e-mail")
    passwd.add_argument("--password-stdin", action="store_true", help="read the new password from stdin instead")
    passwd.set_defaults(func=cmd_user_passwd)
    listing = commands.add_parser("list", help="list staff users", description="list staff users (no passwords)")
    listing.set_defaults(func=cmd_user_list)
