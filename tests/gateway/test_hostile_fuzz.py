"""Hypothesis against every route the OpenAPI document does not describe: webhooks, forms, pages.

(``/api/v1`` is Schemathesis's, in test_openapi_schemathesis.py.) The whole gateway serves on a
loopback port with every webhook channel on (the contracts' settings), and requests are written
byte for byte (tests/support/raw_http.py):

- **Signed webhook bodies.** Each provider's valid fixture, with one value anywhere in its JSON
  tree replaced by any JSON value (lone surrogates, huge numbers, nested lists...) or removed, or
  its form fields rewritten and extended, then *signed with the provider's secret*: the
  hostile body gets past the signature check into the parser, where the bugs would be.
- **Any route, any request.** Every GET/POST/PUT route the router lists (the web form with a
  valid CSRF cookie and token half the time), with generated query strings, header values of any
  bytes, content types, encodings and bodies.

Each answer must be below 500, and nothing may be logged at ERROR (an unhandled exception, or one
of our handlers reporting its own bug). The requests tried per group are printed (``-s``).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway.test_webhook_contract import CONTRACTS, all_providers_settings
from tests.support.error_logs import ErrorRecords, error_records, no_errors
from tests.support.fake_fcm import FakeFcm
from tests.support.raw_http import RawAnswer, exchange_sync, request_bytes
from tests.support.system import SystemThread, free_port, running_system
from tests.support.webhook_contract import WebhookContract, WebhookRequest

EXAMPLES = 120
PER_ROUTE = 15
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure in CI reproduces locally
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
TRIED: Counter[str] = Counter()

# Text of every kind: lone surrogates, NUL, controls, right-to-left marks, astral characters.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10**30) | st.floats(allow_nan=False) | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=6,
)
HEADER_BYTES = st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
HEADER_NAMES = (
    "Authorization",
    "Cookie",
    "Content-Type",
    "Content-Encoding",
    "Accept-Language",
    "Origin",
    "Referer",
    "Sec-Fetch-Site",
    "X-Forwarded-For",
    "If-None-Match",
    "X-Signature",
    "X-Timestamp",
    "X-Twilio-Signature",
    "X-Hub-Signature-256",
    "X-Telegram-Bot-Api-Secret-Token",
    "X-Twitter-Webhooks-Signature",
    "X-Kannel-From",
)
CONTENT_TYPES = (
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=zz",
    "multipart/form-data",
    "text/plain; charset=utf-16",
    "text/plain; charset=x-unknown",
    "application/json; charset=latin-1",
    "image/png",
)
QUERY_KEYS = (
    *("lang", "tiket", "token", "text", "from", "to", "id", "dlr", "reply", "answer", "crc_token", "hub.mode"),
    *("hub.verify_token", "hub.challenge", "page", "ts", "smsc", "coding", "charset", "identitas"),
)


def _as_header(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SystemThread]:
    """The gateway with every webhook on, serving on a free loopback port (no workers: the edge is tested)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    fcm = FakeFcm("fuzz-fcm").write_service_account(tmp / "service-account.json")
    config = all_providers_settings(tmp, fcm).model_copy(update={"port": free_port(), "ops_token": "fuzz-ops-token"})
    with running_system(config, with_workers=False) as system:
        yield system
    print("\nhostile fuzz, requests tried:", dict(sorted(TRIED.items())))


@pytest.fixture
def errors(live: SystemThread) -> Iterator[ErrorRecords]:
    """ERROR records logged while the test runs."""
    with error_records() as handler:
        yield handler


def send(live: SystemThread, group: str, method: str, target: str, headers: Any, body: bytes) -> RawAnswer:
    """One raw request; counts it in its group and fails on a 5xx or no answer."""
    port = int(live.url.rsplit(":", 1)[1])
    answer = exchange_sync(port, request_bytes(method, target, headers, body))
    TRIED[group] += 1
    assert 0 < answer.status < 500, f"{method} {target!r} {headers!r} {body[:200]!r}: {answer.status} {answer.text!r}"
    return answer


def per_route(check: Callable[[str, str, st.DataObject], None], method: str, path: str, examples: int) -> None:
    """Run ``check(method, path, data)`` for ``examples`` Hypothesis examples of its own."""

    @settings(SETTINGS, max_examples=examples)
    @given(data=st.data())
    def one_route(data: st.DataObject) -> None:
        check(method, path, data)

    one_route()


# -- signed webhook bodies ---------------------------------------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON tree (keys and list indexes), the root excluded."""
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


def _replace(tree: Any, path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    tree = json.loads(json.dumps(tree))
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return tree


@st.composite
def hostile_body(draw: st.DrawFn, valid: WebhookRequest) -> WebhookRequest:
    """The valid request with its body changed: a JSON value replaced or removed, form fields rewritten, or text."""
    ctype = next((v for k, v in valid.headers.items() if k.lower() == "content-type"), "")
    if "json" in ctype:
        tree = json.loads(valid.body)
        path = draw(st.sampled_from(_paths(tree)))
        new = _replace(tree, path, draw(JSON_VALUES), draw(st.booleans()))
        return valid.with_body(json.dumps(new, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass"))
    if "form-urlencoded" in ctype:
        fields = parse_qsl(valid.body.decode(), keep_blank_values=True)
        index = draw(st.integers(0, len(fields) - 1))
        fields[index] = (fields[index][0], draw(ANY_TEXT))
        fields += draw(st.lists(st.tuples(st.sampled_from([k for k, _ in fields]), ANY_TEXT), max_size=2))
        body = urlencode(fields, encoding="utf-8", errors="surrogatepass").encode()
        return valid.with_body(body)
    return valid.with_body(draw(st.binary(max_size=300)))


@st.composite
def hostile_query(draw: st.DrawFn) -> str:
    """Up to three parameters our routes read, each with any bytes (percent-encoded as a URL carries them)."""
    pairs = draw(st.lists(st.tuples(st.sampled_from(QUERY_KEYS), st.binary(max_size=20)), max_size=3))
    return "&".join(f"{key}={quote(value, safe='')}" for key, value in pairs)


@pytest.mark.parametrize("adapter", sorted(CONTRACTS))
def test_signed_hostile_bodies_never_get_a_5xx(adapter: str, live: SystemThread, errors: ErrorRecords) -> None:
    """Signed requests whose bodies hold any value anywhere: answered below 500, nothing logged at ERROR."""
    contract: WebhookContract = CONTRACTS[adapter]
    secrets = contract.secret_values()
    valid = contract.valid()

    @SETTINGS
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        request = data.draw(hostile_body(valid))
        extra = data.draw(hostile_query())
        if extra:
            request = request.with_query(extra)
        if data.draw(st.booleans()):
            # A header the provider sets beside its signature (X-Kannel-Coding, a charset...): any bytes.
            name = data.draw(st.sampled_from(sorted(request.headers)))
            value = data.draw(st.sampled_from(["text/plain; charset=utf-16", "application/json; charset=x-unknown"]))
            request = request.with_headers(
                **{
                    name.replace("-", "_"): value
                    if name.lower() == "content-type"
                    else _as_header(data.draw(HEADER_BYTES))
                }
            )
        signed = contract.sign(request, secrets, time.time())
        send(live, f"webhook {adapter} (signed)", signed.method, signed.target, signed.headers.items(), signed.body)

    check()
    no_errors(errors)


# -- any route, any request --------------------------------------------------------------


def _routes(live: SystemThread) -> list[tuple[str, str]]:
    """Every GET/POST/PUT route but the OpenAPI-described /api/v1 and static files."""
    assert live.system is not None
    app = live.system.runner.app
    return sorted(
        {
            (route.method, route.resource.canonical)
            for route in app.router.routes()
            if route.method in ("GET", "POST", "PUT")
            and route.resource is not None
            and "static" not in route.resource.canonical
            and not route.resource.canonical.startswith("/api/v1")
        }
    )


def _fill(path: str, ticket: str) -> str:
    return re.sub(r"\{[^}]+\}", ticket, path)


@st.composite
def form_body(draw: st.DrawFn) -> tuple[str, bytes]:
    """A body of a random shape: urlencoded or multipart form fields the web form reads, JSON, or bytes."""
    names = ("nik", "nama", "alamat", "telp", "email", "isi", "lang", "submission_id", "foto_ref", "foto_nama", "email")
    fields = draw(st.lists(st.tuples(st.sampled_from(names), ANY_TEXT), max_size=6))
    kind = draw(st.sampled_from(["urlencoded", "multipart", "json", "bytes"]))
    if kind == "urlencoded":
        return "application/x-www-form-urlencoded", urlencode(fields, errors="surrogatepass").encode()
    if kind == "multipart":
        parts = b"".join(
            b'--zz\r\nContent-Disposition: form-data; name="'
            + name.encode()
            + b'"\r\n\r\n'
            + value.encode("utf-8", "surrogatepass")
            + b"\r\n"
            for name, value in fields
        )
        if draw(st.booleans()):
            parts += b'--zz\r\nContent-Disposition: form-data; name="foto"; filename="'
            parts += draw(ANY_TEXT).encode("utf-8", "surrogatepass").replace(b'"', b"") + b'"\r\n'
            parts += b"Content-Type: image/png\r\n\r\n" + draw(st.binary(max_size=64)) + b"\r\n"
        return "multipart/form-data; boundary=zz", parts + b"--zz--\r\n"
    if kind == "json":
        return "application/json", json.dumps(draw(JSON_VALUES)).encode("utf-8", "surrogatepass")
    return draw(st.sampled_from(CONTENT_TYPES)), draw(st.binary(max_size=200))


@dataclass(frozen=True)
class BrowserCsrf:
    """What a browser holds after GET /lapor: the CSRF cookie (sent same-origin) and the form's token."""

    headers: list[tuple[str, str]]
    token: str

    def add_to(self, ctype: str, body: bytes) -> bytes:
        """``body`` with the token as its first field (urlencoded or multipart with boundary ``zz``)."""
        if "multipart" in ctype:
            field = b'--zz\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n' + self.token.encode()
            return field + b"\r\n" + body
        if "urlencoded" in ctype:
            return f"csrf_token={self.token}&".encode() + body
        return body


@pytest.fixture(scope="module")
def web_form_csrf(live: SystemThread) -> BrowserCsrf:
    """The cookie and token a browser gets with GET /lapor, so posts get past the CSRF check to the form parser."""
    port = int(live.url.rsplit(":", 1)[1])
    answer = exchange_sync(port, request_bytes("GET", "/lapor", []))
    cookie = answer.headers.get("set-cookie", "").split(";")[0]
    token = re.search(rb'name="csrf_token" value="([^"]+)"', answer.body)
    assert cookie and token, "GET /lapor gives a CSRF cookie and token"
    return BrowserCsrf([("Cookie", cookie), ("Sec-Fetch-Site", "same-origin")], token.group(1).decode())


def test_any_route_any_request_never_gets_a_5xx(
    live: SystemThread, errors: ErrorRecords, web_form_csrf: BrowserCsrf
) -> None:
    """Every route with generated queries, header bytes, content types and bodies: below 500, nothing at ERROR."""
    routes = _routes(live)
    assert ("POST", "/lapor") in routes and ("POST", "/channels/sms/kannel") in routes

    def check(method: str, path: str, data: st.DataObject) -> None:
        ticket = data.draw(st.sampled_from(["BGR-2345678", "%FF%FE", "..%2F..", "x" * 300, "%00"]))
        target = _fill(path, ticket)
        query = data.draw(hostile_query())
        if query:
            target += "?" + query
        headers = [
            (name, _as_header(value))
            for name, value in data.draw(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), HEADER_BYTES), max_size=3))
        ]
        body = b""
        if method in ("POST", "PUT"):
            ctype, body = data.draw(form_body())
            if path == "/lapor" and data.draw(st.booleans()):
                headers += web_form_csrf.headers
                body = web_form_csrf.add_to(ctype, body)
            headers.append(("Content-Type", ctype))
        send(live, f"{method} {path}", method, target, headers, body)

    for method, path in routes:  # each route its own examples: none left to chance
        per_route(check, method, path, PER_ROUTE)
    no_errors(errors)


def test_web_form_csrf_token_is_read(live: SystemThread, web_form_csrf: BrowserCsrf) -> None:
    """The fuzzer's posts with the CSRF cookie and token reach the form checks (422), not the CSRF refusal (403)."""
    ctype = "application/x-www-form-urlencoded"
    body = web_form_csrf.add_to(ctype, b"nik=x")
    headers = [*web_form_csrf.headers, ("Content-Type", ctype)]
    answer = send(live, "POST /lapor", "POST", "/lapor", headers, body)
    assert answer.status == 422, answer.text


def test_web_form_and_look_ups_never_get_a_5xx(
    live: SystemThread, errors: ErrorRecords, web_form_csrf: BrowserCsrf
) -> None:
    """POST /lapor past its CSRF check with any fields and photo parts, and ticket look-ups of any text."""

    @settings(SETTINGS, max_examples=EXAMPLES * 2)
    @given(body=form_body(), ticket=ANY_TEXT)
    def check(body: tuple[str, bytes], ticket: str) -> None:
        ctype, data = body
        data = web_form_csrf.add_to(ctype, data)
        headers = [*web_form_csrf.headers, ("Content-Type", ctype)]
        send(live, "POST /lapor (with CSRF token)", "POST", "/lapor", headers, data)
        encoded = quote(ticket.encode("utf-8", "surrogatepass"), safe="")
        send(live, "GET /lacak/{ticket}", "GET", f"/lacak/{encoded}", [], b"")
        send(live, "GET /lacak?tiket=", "GET", f"/lacak?tiket={encoded}", [], b"")

    check()
    no_errors(errors)
