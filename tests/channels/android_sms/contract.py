"""SMS Gateway for Android's signed webhook, for the shared bad-input table (tests/support/webhook_contract.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from pathlib import Path

from tests.support.webhook_contract import (
    DEFAULT_MALFORMED,
    Duplicate,
    Stale,
    WebhookContract,
    WebhookRequest,
    load_request,
)

FIXTURES = Path(__file__).parent / "fixtures"


def sign(request: WebhookRequest, secrets: Mapping[str, str], now: float) -> WebhookRequest:
    """X-Signature: hex HMAC-SHA256 of the body followed by X-Timestamp (unix seconds)."""
    stamp = str(int(now))
    key = secrets["android_sms_gateway_signing_key"].encode()
    signature = hmac.new(key, request.body + stamp.encode(), hashlib.sha256).hexdigest()
    return request.with_headers(X_Signature=signature, X_Timestamp=stamp)


def empty_payload(request: WebhookRequest) -> WebhookRequest:
    """Well-formed JSON of an sms:received event whose payload lost its sender and text."""
    event = json.loads(request.body)
    event["payload"] = {}
    return request.with_body(json.dumps(event).encode())


CONTRACT = WebhookContract(
    adapter="android_sms",
    settings={
        "android_sms_gateway_url": "http://127.0.0.1:9/3rdparty/v1",
        "android_sms_gateway_username": "contract-android-user",
        "android_sms_gateway_password": "contract-android-password",
        "android_sms_gateway_signing_key": "contract-android-signing-key",
    },
    secrets=("android_sms_gateway_password", "android_sms_gateway_signing_key"),
    valid=lambda: load_request(
        FIXTURES / "sms_received.json", FIXTURES / "webhook.headers", "POST", "/channels/sms/android"
    ),
    sign=sign,
    replays=(
        Duplicate("the app retries with the same event id, which is the external id"),
        Stale("X-Timestamp more than five minutes from now", age_seconds=3600),
        Stale("X-Timestamp more than five minutes ahead: a clock set forward cannot pre-sign", age_seconds=-3600),
    ),
    wrong_content_type="text/plain",
    malformed={**DEFAULT_MALFORMED, "sms:received without sender and message": empty_payload},
)
