"""WhatsApp Cloud API's webhook, for the shared bad-input table (tests/support/webhook_contract.py)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path

from tests.support.webhook_contract import Duplicate, WebhookContract, WebhookRequest, load_request

FIXTURES = Path(__file__).parent / "fixtures"


def sign(request: WebhookRequest, secrets: Mapping[str, str], now: float) -> WebhookRequest:
    """X-Hub-Signature-256: sha256= + hex HMAC-SHA256 of the body keyed with the app secret."""
    digest = hmac.new(secrets["whatsapp_app_secret"].encode(), request.body, hashlib.sha256).hexdigest()
    return request.with_headers(X_Hub_Signature_256="sha256=" + digest)


CONTRACT = WebhookContract(
    adapter="whatsapp",
    settings={
        "whatsapp_access_token": "contract-whatsapp-access-token",
        # The fixture's phone number ID (Meta's example): notifications for other numbers are ignored.
        "whatsapp_phone_number_id": "106540352242922",
        "whatsapp_app_secret": "contract-whatsapp-app-secret",
        "whatsapp_verify_token": "contract-whatsapp-verify-token",
        "whatsapp_api_base": "http://127.0.0.1:9",
    },
    secrets=("whatsapp_access_token", "whatsapp_app_secret", "whatsapp_verify_token"),
    valid=lambda: load_request(
        FIXTURES / "message_text.json", FIXTURES / "webhook.headers", "POST", "/channels/whatsapp"
    ),
    sign=sign,
    # No timestamp is signed; Meta redelivers a notification until it gets a 200, with the same wamid.
    replays=(Duplicate("the same message wamid is the same external id"),),
    wrong_content_type="application/x-www-form-urlencoded",
)
