"""Kannel adapter, sans-I/O: what smsbox sends (get-url, post-url, delivery reports) as raw requests."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from channels.base import BadRequest, RawRequest, Unauthorized
from channels.sms.kannel import KannelSms
from config.settings import Settings

SETTINGS = Settings(
    _env_file=None,
    kannel_sendsms_url="http://127.0.0.1:13013/cgi-bin/sendsms",
    kannel_username="u",
    kannel_password="p",
    kannel_inbound_token="tok",
)  # type: ignore[call-arg]


def get(query: str) -> RawRequest:
    """A get-url request exactly as smsbox sends it (percent-encoded query, '+' for spaces)."""
    decoded = dict(parse_qsl(query, keep_blank_values=True, errors="replace"))
    return RawRequest(
        method="GET", path="/channels/sms/kannel", query=decoded, headers={}, body=b"", query_string=query
    )


CASES = [
    (
        "text sms",
        "token=tok&from=%2B6281234567890&to=1708&text=LAPOR%23327101%23Siti+Aminah&id=6f1c&ts=1764400000&coding=0&charset=UTF-8",
        "LAPOR#327101#Siti Aminah",
        "kannel:6f1c",
    ),
    (
        "ucs-2 sms",
        "token=tok&from=%2B6281234567890&text=%00J%00a%00l%00a%00n%D8%3C%DF3&id=7a&coding=2&charset=UTF-16BE",
        "Jalan🌳",
        "kannel:7a",
    ),
    ("no id", "token=tok&from=%2B6281234567890&text=hai", "hai", None),
    ("dash id", "token=tok&from=%2B6281234567890&text=hai&id=-", "hai", None),
]


@pytest.mark.parametrize(("label", "query", "text", "external_id"), CASES, ids=[c[0] for c in CASES])
def test_get_url_messages_are_read_verbatim(label: str, query: str, text: str, external_id: str | None) -> None:
    """The SMS text (%b) survives verbatim, UCS-2 included; Kannel's %I becomes the dedupe id."""
    adapter = KannelSms(SETTINGS)
    request = get(query)
    adapter.verify(request)
    [intake] = adapter.parse(request).intakes
    assert intake.text == text and intake.external_id == external_id
    assert intake.sender == "+6281234567890" and intake.reply_route.address == "+6281234567890"


def test_post_url_reads_body_and_x_kannel_headers() -> None:
    """post-url: the body is the text, sender and time come from X-Kannel-* headers."""
    request = RawRequest(
        method="POST",
        path="/channels/sms/kannel",
        query={"token": "tok", "id": "9"},
        query_string="token=tok&id=9",
        headers={
            "X-Kannel-From": "+6281234567890",
            "X-Kannel-Time": "1764400000",
            "Content-Type": "text/plain; charset=UTF-8",
        },
        body=b"Pohon tumbang di Jl. Juanda",
    )
    [intake] = KannelSms(SETTINGS).parse(request).intakes
    assert intake.text == "Pohon tumbang di Jl. Juanda" and intake.sender == "+6281234567890"
    assert intake.received_at is not None and intake.received_at.year == 2025


@pytest.mark.parametrize(("dlr", "status"), [("1", "delivered"), ("2", "failed"), ("8", "sent"), ("16", "failed")])
def test_delivery_reports_update_the_reply(dlr: str, status: str) -> None:
    """Kannel's dlr-url callback (%d) becomes a delivery update for our reply id."""
    result = KannelSms(SETTINGS).parse(get(f"token=tok&reply=abc123&dlr={dlr}&answer=ACK%2F"))
    assert result.intakes == [] and result.delivery_updates[0].status == status
    assert result.delivery_updates[0].reply_id == "abc123"


@pytest.mark.parametrize("query", ["from=%2B62812&text=x", "token=wrong&from=%2B62812&text=x"])
def test_wrong_or_missing_token_is_refused(query: str) -> None:
    """Without the shared token the request is refused before anything is read."""
    with pytest.raises(Unauthorized):
        KannelSms(SETTINGS).verify(get(query))


@pytest.mark.parametrize(
    "query", ["token=tok&text=x", "token=tok&from=%2B62812", "token=tok&dlr=1", "token=tok&dlr=99&reply=a"]
)
def test_malformed_requests_say_what_is_missing(query: str) -> None:
    """A get-url without from/text, or a report without type or reply id, is a 400 with the reason."""
    with pytest.raises(BadRequest):
        KannelSms(SETTINGS).parse(get(query))


def test_answer_is_empty_so_smsbox_sends_nothing() -> None:
    """The answer is an empty 200: Kannel counts it as delivered and sends no SMS of its own."""
    adapter = KannelSms(SETTINGS)
    assert adapter.answer(get(""), ["BGR-7KQ2XMP"]) == (200, "text/plain", b"")
