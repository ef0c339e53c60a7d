"""X's Account Activity webhook (X_WEBHOOK_ENABLED), for the shared bad-input table.

See tests/support/webhook_contract.py for what each field means.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path

from tests.support.webhook_contract import Duplicate, WebhookContract, WebhookRequest, load_request

FIXTURES = Path(__file__).parent / "fixtures"


def sign(request: WebhookRequest, secrets: Mapping[str, str], now: float) -> WebhookRequest:
    """x-twitter-webhooks-signature: sha256= + base64 HMAC-SHA256 of the body with the consumer secret."""
    digest = hmac.new(secrets["x_consumer_secret"].encode(), request.body, hashlib.sha256).digest()
    return request.with_headers(X_Twitter_Webhooks_Signature="sha256=" + base64.b64encode(digest).decode())


CONTRACT = WebhookContract(
    adapter="x",
    settings={
        "x_consumer_key": "contract-x-consumer-key",
        "x_consumer_secret": "contract-x-consumer-secret",
        "x_access_token": "contract-x-access-token",
        "x_access_token_secret": "contract-x-access-token-secret",
        # The mention fixture's for_user_id (@TwitterDev in X's documentation).
        "x_user_id": "2244994945",
        "x_webhook_enabled": True,
        "x_api_base": "http://127.0.0.1:9",
    },
    secrets=("x_consumer_secret", "x_access_token", "x_access_token_secret"),
    valid=lambda: load_request(
        FIXTURES / "aaa_tweet_create_events_mention.json", FIXTURES / "webhook_post.headers", "POST", "/channels/x"
    ),
    sign=sign,
    # X signs no timestamp; a redelivered event carries the same tweet id, the external id.
    replays=(Duplicate("the same tweet id is the same external id, also shared with the poller"),),
    wrong_content_type="text/plain",
)
