"""The shared bad-input table every webhook adapter runs, generated from one contract per channel.

Each webhook channel has ``tests/channels/<name>/contract.py`` defining ``CONTRACT``, a
:class:`WebhookContract` that says, in data, how its provider calls us:

- ``adapter``: the registry name (``channels/registry.py``), e.g. ``"twilio"``;
- ``settings``: the settings that switch the provider on (its secrets among them);
- ``secrets``: which of those settings are secrets (used to sign; never to appear in a log line or
  an answer; replaced by wrong values for the "wrong signature" case);
- ``valid``: builds the one valid, *unsigned* request from the channel's fixture files
  (:func:`load_request` reads a body file and a ``.headers`` file, skipping ``<placeholder>`` headers);
- ``sign(request, secrets, now)``: signs a request as the provider would with those secrets at
  unix time ``now`` (computed with the standard library or the provider's own package, never with
  the adapter's code);
- ``replays``: what a replay means for that provider and what the gateway answers
  (:class:`Duplicate`: the same delivery again is answered but stores nothing new;
  :class:`Stale`: a signature timestamp outside the provider's window is refused);
- ``wrong_content_type``: a Content-Type the provider never sends (answered 415);
- ``malformed``: named transformations of the valid request the adapter must refuse with 400
  (default: the body cut in half, and an empty body; for a JSON provider also JSON nested
  deeper than a parser goes).

From a contract :func:`cases` generates the rows: the valid request is accepted and stored;
without the signature → 401; with a signature made from wrong secrets → 401; each replay; a body
one byte over MAX_BODY_BYTES → 413; each malformed body → 400; the wrong content type → 415; and
the forgeries (part-hostile): each credential the provider sends (every header ``sign`` sets, or
the query it adds) with bytes that are not UTF-8 in front → 401, and, where the signature covers
the body, a valid signature on another body → 401. After
every refused request nothing at all is stored (rows of every table are counted), the answer says
why, and no secret appears in the answer or in the logs (the production logging pipeline is
captured). ``tests/gateway/test_webhook_contract.py`` runs the rows through the real gateway and
fails when a webhook adapter the registry builds has no contract, so adding a channel means adding
its contract file, not new test rows. A minimal contract::

    CONTRACT = WebhookContract(
        adapter="whatsapp",
        settings={"whatsapp_app_secret": "wa-secret", ...},
        secrets=("whatsapp_app_secret",),
        valid=lambda: load_request(FIXTURES / "text.json", FIXTURES / "webhook.headers", "POST", "/channels/whatsapp"),
        sign=sign_whatsapp,  # adds X-Hub-Signature-256 over the body
        replays=(Duplicate("Meta redelivers the same message id until it gets a 200"),),
        wrong_content_type="application/x-www-form-urlencoded",
    )
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote

from tests.support.raw_http import bad_bytes

PUBLIC_BASE_URL = "https://lapor.kotabogor.example"
"""The gateway's public URL in these tests (unlike the test server's own: URL signatures use it)."""
MAX_BODY_BYTES = 4096
CONTRACTS_ROOT = Path(__file__).resolve().parent.parent / "channels"


@dataclass(frozen=True)
class WebhookRequest:
    """One HTTP request as a provider sends it; ``target`` is the path and query, percent-encoded as sent."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def url(self) -> str:
        """The public URL the provider calls (what URL-signing providers sign)."""
        return PUBLIC_BASE_URL + self.target

    def with_headers(self, **changes: str | None) -> WebhookRequest:
        """A copy with headers set (``None`` removes one); names use ``_`` for ``-``."""
        headers = dict(self.headers)
        for key, value in changes.items():
            name = key.replace("_", "-")
            for existing in [h for h in headers if h.lower() == name.lower()]:
                del headers[existing]
            if value is not None:
                headers[name] = value
        return dataclasses.replace(self, headers=headers)

    def with_body(self, body: bytes) -> WebhookRequest:
        """A copy with another body."""
        return dataclasses.replace(self, body=body)

    def with_query(self, extra: str) -> WebhookRequest:
        """A copy with ``extra`` (already encoded ``k=v`` pairs) appended to the query."""
        joiner = "&" if "?" in self.target else "?"
        return dataclasses.replace(self, target=self.target + joiner + extra)


Signer = Callable[[WebhookRequest, Mapping[str, str], float], WebhookRequest]
"""(request, secrets by setting name, unix time) -> the request as the provider signs it."""
Transform = Callable[[WebhookRequest], WebhookRequest]


@dataclass(frozen=True)
class Duplicate:
    """The provider delivers the same signed request again (a retry after a lost answer).

    The repeat is answered ``status`` and stores nothing new; ``why`` says what dedupes it.
    """

    why: str
    status: int = 200


@dataclass(frozen=True)
class Stale:
    """A request signed ``age_seconds`` ago: outside the provider's timestamp window, refused."""

    why: str
    age_seconds: int = 3600
    status: int = 401


def truncated(request: WebhookRequest) -> WebhookRequest:
    """The body cut in half, as a dropped connection or a broken proxy leaves it."""
    return request.with_body(request.body[: len(request.body) // 2])


def emptied(request: WebhookRequest) -> WebhookRequest:
    """The right headers with no body at all."""
    return request.with_body(b"")


def nested_too_deep(request: WebhookRequest) -> WebhookRequest:
    """Valid JSON nested 1,500 deep: more than a recursive parser goes (part-hostile: once a 500)."""
    return request.with_body(b"[" * 1500 + b"]" * 1500)


DEFAULT_MALFORMED: Mapping[str, Transform] = {"truncated body": truncated, "empty body": emptied}


@dataclass(frozen=True)
class WebhookContract:
    """How one provider calls its webhook: the input the shared bad-input table is generated from."""

    adapter: str
    settings: Mapping[str, object]
    secrets: tuple[str, ...]
    valid: Callable[[], WebhookRequest]
    sign: Signer
    replays: tuple[Duplicate | Stale, ...]
    wrong_content_type: str
    malformed: Mapping[str, Transform] = field(default_factory=lambda: dict(DEFAULT_MALFORMED))
    valid_status: int = 200

    def secret_values(self) -> dict[str, str]:
        """The configured secrets, by setting name."""
        return {name: str(self.settings[name]) for name in self.secrets}


@dataclass(frozen=True)
class Step:
    """One request of a case, the status it must get, and whether it may store anything.

    ``build(now)`` makes the request when the test runs, so signature timestamps are fresh.
    """

    build: Callable[[float], WebhookRequest]
    status: int
    stores: bool = False


@dataclass(frozen=True)
class Case:
    """One row of the table: ``steps`` sent in order to ``adapter``'s webhook."""

    adapter: str
    name: str
    steps: tuple[Step, ...]

    @property
    def id(self) -> str:
        """The pytest id, e.g. ``twilio-wrong signature``."""
        return f"{self.adapter}-{self.name}"


def cases(contract: WebhookContract) -> list[Case]:
    """Every row the shared table holds for one contract."""
    secrets = contract.secret_values()
    wrong = {name: "wrong-" + value[::-1] for name, value in secrets.items()}
    valid = contract.valid()

    def signed(request: WebhookRequest, age: float = 0) -> Callable[[float], WebhookRequest]:
        return lambda now: contract.sign(request, secrets, now - age)

    def row(name: str, *steps: Step) -> Case:
        return Case(contract.adapter, name, steps)

    rows = [
        row("valid", Step(signed(valid), contract.valid_status, stores=True)),
        row("missing signature", Step(lambda now: valid, 401)),
        row("wrong signature", Step(lambda now: contract.sign(valid, wrong, now), 401)),
        *[row(name, Step(build, 401)) for name, build in forgeries(contract, valid, secrets)],
    ]
    for replay in contract.replays:
        if isinstance(replay, Duplicate):
            # Both steps sign at the same ``now``: the repeat is the very same request.
            again = Step(signed(valid), replay.status)
            rows.append(row("replay: same delivery again", Step(signed(valid), contract.valid_status, True), again))
        else:
            when = f"{replay.age_seconds}s ago" if replay.age_seconds > 0 else f"{-replay.age_seconds}s ahead"
            rows.append(row(f"replay: signed {when}", Step(signed(valid, replay.age_seconds), replay.status)))
    padding = b" " * (MAX_BODY_BYTES + 1 - len(valid.body))
    rows.append(row("oversized body", Step(signed(valid.with_body(valid.body + padding)), 413)))
    malformed = dict(contract.malformed)
    if any(k.lower() == "content-type" and "json" in v for k, v in valid.headers.items()):
        malformed.setdefault("JSON nested 1,500 deep", nested_too_deep)
    for name, transform in malformed.items():
        rows.append(row(f"malformed: {name}", Step(signed(transform(valid)), 400)))
    wrong_type = valid.with_headers(Content_Type=contract.wrong_content_type)
    rows.append(row("wrong content type", Step(signed(wrong_type), 415)))
    return rows


def _credentials(contract: WebhookContract, request: WebhookRequest, secrets: Mapping[str, str]) -> list[str]:
    """The header names ``sign`` sets on ``request`` (signatures, tokens, timestamps)."""
    signed = contract.sign(request, secrets, 1_700_000_000.0)
    return [name for name, value in signed.headers.items() if request.headers.get(name) != value]


def _signature(
    contract: WebhookContract, request: WebhookRequest, secrets: Mapping[str, str], names: list[str]
) -> list[str]:
    """The credential headers ``sign`` gives ``request`` at one fixed time."""
    signed = contract.sign(request, secrets, 1_700_000_000.0)
    return [signed.headers[name] for name in names]


def _header_key(name: str) -> str:
    return name.replace("-", "_")


def forgeries(
    contract: WebhookContract, valid: WebhookRequest, secrets: Mapping[str, str]
) -> list[tuple[str, Callable[[float], WebhookRequest]]]:
    """Forged requests the gateway must refuse with 401 (part-hostile), as (row name, build(now)).

    - every credential header ``sign`` sets, with bytes that are not UTF-8 before its right value;
    - a query credential (Kannel's ``token=``) likewise, percent-encoded as a URL carries it;
    - where the signature covers the body: the valid request's signature on another body (one
      space longer), the way a captured signature would be replayed onto a forged message.
    """
    rows: list[tuple[str, Callable[[float], WebhookRequest]]] = []
    names = _credentials(contract, valid, secrets)
    for name in names:

        def bad_header(now: float, name: str = name) -> WebhookRequest:
            signed = contract.sign(valid, secrets, now)
            return signed.with_headers(**{_header_key(name): bad_bytes(signed.headers[name])})

        rows.append((f"bad bytes in {name}", bad_header))
    added = contract.sign(valid, secrets, 1_700_000_000.0).target.removeprefix(valid.target)
    if added:
        pairs = parse_qsl(added.lstrip("?&"), keep_blank_values=True)

        def bad_query(now: float) -> WebhookRequest:
            query = "&".join(f"{key}=%FF%FE{quote(value, safe='')}" for key, value in pairs)
            return dataclasses.replace(valid, target=valid.target + added[0] + query)

        rows.append((f"bad bytes in the query's {', '.join(key for key, _ in pairs)}", bad_query))
    other = valid.with_body(valid.body + b" ")
    if _signature(contract, other, secrets, names) != _signature(contract, valid, secrets, names):

        def reused(now: float) -> WebhookRequest:
            signed = contract.sign(valid, secrets, now)
            return other.with_headers(**{_header_key(n): signed.headers[n] for n in names})

        rows.append(("replay: signature on another body", reused))
    return rows


def load_request(body_file: Path, headers_file: Path, method: str, target: str) -> WebhookRequest:
    """A request from fixture files: the body byte for byte, and the headers listed one per line.

    Lines whose value is a ``<placeholder>`` (signatures, timestamps) are left out, as is a
    status line: the contract's ``sign`` adds what depends on the secret and the time.
    """
    headers: dict[str, str] = {}
    for line in headers_file.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition(":")
        if sep and not line.startswith("HTTP/") and "<" not in value:
            headers[name.strip()] = value.strip()
    return WebhookRequest(method=method, target=target, headers=headers, body=body_file.read_bytes())


def load_contracts(root: Path = CONTRACTS_ROOT) -> dict[str, WebhookContract]:
    """Every ``<root>/<name>/contract.py``'s ``CONTRACT``, keyed by adapter name."""
    contracts: dict[str, WebhookContract] = {}
    for path in sorted(root.glob("*/contract.py")):
        spec = importlib.util.spec_from_file_location(f"webhook_contract_{path.parent.name}", path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        contract = getattr(module, "CONTRACT", None)
        if not isinstance(contract, WebhookContract):
            raise TypeError(f"{path} must define CONTRACT = WebhookContract(...)")
        if contract.adapter in contracts:
            raise ValueError(f"two contracts for {contract.adapter!r}")
        contracts[contract.adapter] = contract
    return contracts
