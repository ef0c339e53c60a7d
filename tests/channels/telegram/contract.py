"""Telegram's webhook (TELEGRAM_MODE=webhook), for the shared bad-input table (tests/support/webhook_contract.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tests.support.webhook_contract import Duplicate, WebhookContract, WebhookRequest, load_request

FIXTURES = Path(__file__).parent / "fixtures"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def sign(request: WebhookRequest, secrets: Mapping[str, str], now: float) -> WebhookRequest:
    """Telegram sends the setWebhook secret_token as it is, in a header."""
    return request.with_headers(**{SECRET_HEADER.replace("-", "_"): secrets["telegram_webhook_secret"]})


def unsigned_update() -> WebhookRequest:
    """message_text.json with webhook.headers, less the secret the fixture shows (sign adds it)."""
    request = load_request(FIXTURES / "message_text.json", FIXTURES / "webhook.headers", "POST", "/channels/telegram")
    return request.with_headers(**{SECRET_HEADER.replace("-", "_"): None})


CONTRACT = WebhookContract(
    adapter="telegram",
    settings={
        "telegram_bot_token": "123456:contract-telegram-bot-token-abcdefghijklmnop",
        "telegram_webhook_secret": "contract_telegram-webhook-secret",
        "telegram_mode": "webhook",
        "telegram_api_base": "http://127.0.0.1:9",
    },
    secrets=("telegram_bot_token", "telegram_webhook_secret"),
    valid=unsigned_update,
    sign=sign,
    # No timestamp is signed; Telegram redelivers an update until it gets a 2xx, with its update_id.
    replays=(Duplicate("the same update_id (with chat and message id) is the same external id"),),
    wrong_content_type="application/x-www-form-urlencoded",
)
