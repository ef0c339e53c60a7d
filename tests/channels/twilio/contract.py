"""Twilio's incoming-message webhook, for the shared bad-input table (tests/support/webhook_contract.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl

from multidict import MultiDict
from twilio.request_validator import RequestValidator

from tests.support.webhook_contract import Duplicate, WebhookContract, WebhookRequest, emptied, load_request

FIXTURES = Path(__file__).parent / "fixtures"


def sign(request: WebhookRequest, secrets: Mapping[str, str], now: float) -> WebhookRequest:
    """X-Twilio-Signature over the public URL as called and the form fields, by the twilio package."""
    fields = MultiDict(parse_qsl(request.body.decode("utf-8", errors="replace"), keep_blank_values=True))
    signature = RequestValidator(secrets["twilio_auth_token"]).compute_signature(request.url, fields)
    return request.with_headers(X_Twilio_Signature=signature)


def fields_cut_off(request: WebhookRequest) -> WebhookRequest:
    """The form cut at a field boundary before AccountSid and MessageSid: still form data, signable."""
    half = request.body[: len(request.body) // 2]
    return request.with_body(half[: half.rindex(b"&")])


def media_count_not_a_number(request: WebhookRequest) -> WebhookRequest:
    """NumMedia that is no number, so the media list cannot be read."""
    return request.with_body(request.body.replace(b"NumMedia=0", b"NumMedia=two"))


CONTRACT = WebhookContract(
    adapter="twilio",
    settings={
        # The fixture's AccountSid (the docs' placeholder): requests of other accounts are refused.
        "twilio_account_sid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "twilio_auth_token": "contract-twilio-auth-token",
        "twilio_from": "+15005550006",
        "twilio_api_base": "http://127.0.0.1:9",
    },
    secrets=("twilio_auth_token",),
    valid=lambda: load_request(
        FIXTURES / "incoming_sms.body", FIXTURES / "incoming_sms.headers", "POST", "/channels/sms/twilio"
    ),
    sign=sign,
    # Twilio signs no timestamp; it retries a timed-out webhook with the same MessageSid.
    replays=(Duplicate("the same MessageSid again: the (channel, external id) key makes it a duplicate"),),
    wrong_content_type="application/json",
    # A body cut mid-field is not form data: the signature cannot be checked, so that is a 401
    # ("missing signature" covers it); these bodies are signable and still unreadable.
    malformed={
        "empty body": emptied,
        "fields cut off": fields_cut_off,
        "NumMedia not a number": media_count_not_a_number,
    },
)
