"""Hypothesis against the staff console, logged in as each role: every form and query, past login and CSRF.

test_hostile_fuzz.py reaches the console only from outside (login page, CSRF refusals). Here an
admin, an operator and an OPD user log in over HTTP, and every console route is called with the session cookie and the
session's CSRF token: case actions, merges, resends, manual entry, users, dead letters, reports,
with the forms' own field names holding any text (dates that are no dates, ids that are no ids,
lone surrogates) and any query. Each answer must be below 500 and nothing logged at ERROR.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import strategies as st

from complaints.accounts import Accounts
from normalizer.tickets import new_ticket
from tests.conftest import base_settings
from tests.gateway.test_hostile_fuzz import ANY_TEXT, TRIED, per_route, send
from tests.support.cases import seed_case
from tests.support.error_logs import error_records, no_errors
from tests.support.system import SystemThread, free_port, running_system

PASSWORD = "kebun raya bogor 1817"
FIELDS = (
    *("action", "active", "address", "alamat", "answer", "answer_by", "attention", "channel", "email", "from", "ids"),
    *("lang", "name", "note", "opd", "overdue", "password", "phone_note", "publish", "reason", "reason_template"),
    *("role", "rows", "source", "status", "submission_id", "text", "ticket", "tiket", "to", "via", "version", "nik"),
    *("current_password", "new_password", "telp", "isi", "page"),
)
# Bytes that are not UTF-8 first (as a browser on a legacy page sends them): Hypothesis tries early values most.
ODD_VALUES = (
    st.sampled_from(
        ["\udcff\udcfe", "caf\udce9 (Latin-1)", "", "0", "-1", "99999999999999999999", "2026-02-30", "2026-13-01"]
        + ["9999-12-31", "0001-01-01", "x" * 5000]
    )
    | ANY_TEXT
)


class Console:
    """A logged-in admin's session: the cookie header and the session's CSRF token."""

    def __init__(self, base: str) -> None:
        self.http = requests.Session()
        self.base = base

    def login(self, email: str, password: str) -> None:
        """Log in through the login form, as a browser does."""
        page = self.http.get(f"{self.base}/ops/login", timeout=10)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, "the login form carries a CSRF token"
        form = {"csrf_token": token.group(1), "email": email, "password": password}
        answer = self.http.post(f"{self.base}/ops/login", data=form, timeout=10, allow_redirects=True)
        assert answer.url.rstrip("/").endswith("/ops"), answer.url

    def token(self) -> str:
        """The CSRF token of this session (read from the inbox page's logout form)."""
        page = self.http.get(f"{self.base}/ops/", timeout=10)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, page.text[:300]
        return found.group(1)

    def cookie(self) -> str:
        """The Cookie header this session sends."""
        return "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)


# Who logs in (user ids 1-3), and how many examples each route gets for them.
ROLES = {
    "admin": ("admin@example.org", None, 15),
    "operator": ("op@example.org", None, 6),
    "opd": ("pupr@example.org", "pupr", 6),
}


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SystemThread, dict[str, Console], str]]:
    """The system with one case and a logged-in session per role; (system, sessions by role, the case's ticket)."""
    tmp = tmp_path_factory.mktemp("console-fuzz")
    with running_system(base_settings(tmp, port=free_port()), with_workers=False) as system:
        assert system.system is not None
        runtime = system.system.runtime
        accounts = Accounts(sf=runtime.sf, read_sf=runtime.read_sf, opd_codes=frozenset(runtime.config.opds))
        for role, (email, opd, _) in ROLES.items():
            accounts.create_user(email=email, name=f"Petugas {role}", role=role, opd_code=opd, password=PASSWORD)
        # User 4, whom the fuzzed user forms may change (users 1-3 are the sessions' own).
        accounts.create_user(email="other@example.org", name="Operator Lain", role="operator", password=PASSWORD)
        ticket = new_ticket()
        with runtime.sf.begin() as session:
            seed_case(session, ticket, "disposisi", opd_code="pupr", text="Jalan berlubang di Jl. Pajajaran.")
        sessions = {}
        for role, (email, _, _) in ROLES.items():
            sessions[role] = Console(system.url)
            sessions[role].login(email, PASSWORD)
        yield system, sessions, ticket
    print("\nhostile console fuzz, requests tried:", {k: v for k, v in sorted(TRIED.items()) if k.endswith(")")})


def _bytes(value: str) -> bytes:
    """``value`` as UTF-8, "\\udcff" as the byte 0xFF, any other lone surrogate as CESU bytes."""
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def multipart(fields: list[tuple[str, str]], charset: str | None = None) -> bytes:
    """A multipart/form-data body (boundary ``zz``); surrogates in values stand for bytes that are not UTF-8."""
    part_type = f"Content-Type: text/plain; charset={charset}\r\n".encode() if charset else b""
    return (
        b"".join(
            b'--zz\r\nContent-Disposition: form-data; name="%s"\r\n%s\r\n%s\r\n'
            % (name.encode(), part_type, _bytes(value))
            for name, value in fields
        )
        + b"--zz--\r\n"
    )


def _console_routes(system: SystemThread) -> list[tuple[str, str]]:
    assert system.system is not None
    return sorted(
        {
            (route.method, route.resource.canonical)
            for route in system.system.runner.app.router.routes()
            if route.method in ("GET", "POST")
            and route.resource is not None
            and route.resource.canonical.startswith("/ops/")
            and "static" not in route.resource.canonical
            and not route.resource.canonical.endswith(("/logout", "/login", "/password"))
        }
    )


def _fill(path: str, ticket: str, draw: st.DrawFn) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("ticket"):
            return draw(st.sampled_from([ticket, "BGR-2345678"]))
        if name.startswith(("user_id", "table", "name", "ext")):
            return draw(st.sampled_from(["4", "99999999999999999999", "0", "complaints", "csv", "xlsx"]))
        return quote(draw(ANY_TEXT).encode("utf-8", "surrogatepass"), safe="") or "x"

    return re.sub(r"\{([^}]+)\}", value, path)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_console_logged_in_never_gets_a_5xx(role: str, console: tuple[SystemThread, dict[str, Console], str]) -> None:
    """Every console route, logged in as ``role``, with its forms' fields and queries holding any text: below 500."""
    system, sessions, ticket = console
    session = sessions[role]
    routes = _console_routes(system)
    assert ("POST", "/ops/kasus/{ticket}/aksi") in routes and ("GET", "/ops/reports") in routes
    token = session.token()
    statuses: Counter[int] = Counter()

    def check(method: str, path: str, data: st.DataObject) -> None:
        target = _fill(path, ticket, data.draw)
        pairs = data.draw(st.lists(st.tuples(st.sampled_from(FIELDS), ODD_VALUES), max_size=5))
        encoded = urlencode([(k, v.encode("utf-8", "surrogatepass")) for k, v in pairs])
        headers = [("Cookie", session.cookie())]
        body = b""
        if method == "POST" and data.draw(st.booleans()):
            # As a browser sends a form with a file input: multipart, each field's bytes as typed.
            ctype, body = "multipart/form-data; boundary=zz", multipart([("csrf_token", token), *pairs])
            headers.append(("Content-Type", ctype))
        elif method == "POST":
            body = f"csrf_token={token}&".encode() + encoded.encode()
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        elif encoded:
            target += "?" + encoded
        answer = send(system, f"{method} {path} ({role})", method, target, headers, body)
        statuses[answer.status] += 1

    with error_records() as errors:
        for method, path in routes:  # each route its own examples: none left to chance
            per_route(check, method, path, ROLES[role][2])
    no_errors(errors)
    assert session.token() == token, "the session stayed logged in throughout"
    # Logged in and past CSRF: pages answered and forms were read (not all refused or sent to the login).
    assert statuses[200] > 5, statuses
    if role == "admin":
        assert statuses[403] < sum(statuses.values()) / 4, statuses


@pytest.mark.parametrize(
    ("field", "charset"),
    [("\udcff\udcfe", None), ("\udced\udca0\udc80", None), ("teks biasa", "x-unknown")],
    ids=["ff-fe", "utf8-surrogate", "unknown-charset"],
)
@pytest.mark.parametrize("path", ["/ops/login", "/ops/kasus/{ticket}/aksi", "/ops/pengguna/baru"])
def test_a_form_field_that_is_not_text_is_a_400(
    path: str, field: str, charset: str | None, console: tuple[SystemThread, dict[str, Console], str]
) -> None:
    """part-hostile: a multipart field with bytes that are not UTF-8, or in an unknown charset, was a 500."""
    system, sessions, ticket = console
    session = sessions["admin"]
    body = multipart([("csrf_token", session.token()), ("note", field)], charset)
    headers = [("Cookie", session.cookie()), ("Content-Type", "multipart/form-data; boundary=zz")]
    with error_records() as errors:
        answer = send(system, "form field not text (admin)", "POST", path.format(ticket=ticket), headers, body)
    assert answer.status == 400 and "form field" in answer.text, (answer.status, answer.text[:200])
    no_errors(errors)
