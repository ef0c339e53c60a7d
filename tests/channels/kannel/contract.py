"""Kannel smsbox's post-url webhook, for the shared bad-input table (tests/support/webhook_contract.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from tests.support.webhook_contract import Duplicate, WebhookContract, WebhookRequest, load_request

FIXTURES = Path(__file__).parent / "fixtures"


def sign(request: WebhookRequest, secrets: Mapping[str, str], now: float) -> WebhookRequest:
    """smsbox has no signature: the post-url in smsbox.conf carries the shared token in the query."""
    return request.with_query("token=" + quote(secrets["kannel_inbound_token"], safe=""))


def no_sender(request: WebhookRequest) -> WebhookRequest:
    """A post-url without X-Kannel-From (and no from= in the query): nobody to answer."""
    return request.with_headers(X_Kannel_From=None)


def report_without_reply_id(request: WebhookRequest) -> WebhookRequest:
    """A delivery report (dlr=%d) that does not name our reply: nothing to update."""
    return request.with_query("dlr=1")


CONTRACT = WebhookContract(
    adapter="kannel",
    settings={
        "kannel_sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms",
        "kannel_username": "contract-kannel-user",
        "kannel_password": "contract-kannel-password",
        "kannel_inbound_token": "contract-kannel-token",
    },
    secrets=("kannel_password", "kannel_inbound_token"),
    valid=lambda: load_request(
        FIXTURES / "mo_post_url.body", FIXTURES / "mo_post_url.headers", "POST", "/channels/sms/kannel?id=contract-1"
    ),
    sign=sign,
    replays=(Duplicate("smsbox retries until it gets 200/202, with the same message id (%I in the post-url)"),),
    # post-xml is not read: its XML must not become a complaint's text.
    wrong_content_type="text/xml",
    # A post-url body is the SMS text, so a cut or empty one is still a message (the conversation
    # asks for the rest); these are not.
    malformed={"no sender": no_sender, "delivery report without reply id": report_without_reply_id},
)
