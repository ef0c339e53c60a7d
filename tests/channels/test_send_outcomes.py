"""A send cut off after the request went out has an unknown outcome; each provider says so, or makes it safe."""

from __future__ import annotations

import socket

import pytest

from channels.base import OutboundReply, SendError
from channels.email.sender import EmailSender
from channels.sms.android_gateway import AndroidSmsGateway
from channels.sms.twilio import TwilioSms
from config.settings import Settings
from tests.support.fake_android_gateway import FakeAndroidGateway
from tests.support.fake_twilio import FakeTwilio
from tests.support.smtp_sink import SmtpSink

SMS = OutboundReply(id="6f1d0c2e9a8b4c7d", channel="sms", provider="twilio", address="+6281234567890", text="Tiket")


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, send_timeout_seconds=1.0, public_base_url="https://intake.example", **values)  # type: ignore[arg-type, call-arg]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.asyncio
async def test_twilio_timeout_after_the_request_is_an_unknown_outcome() -> None:
    """Twilio created the message but never answered: the error says the outcome is unknown."""
    async with FakeTwilio("AC" + "1" * 32, "token") as twilio:
        twilio.hang_after_receiving = 1
        adapter = TwilioSms(
            _settings(
                twilio_account_sid="AC" + "1" * 32,
                twilio_auth_token="token",
                twilio_from="+14155552345",
                twilio_api_base=twilio.url,
            )
        )
        try:
            with pytest.raises(SendError) as caught:
                await adapter.send(SMS)
        finally:
            await adapter.close()
        assert len(twilio.messages) == 1
    assert caught.value.retryable and caught.value.outcome_unknown


@pytest.mark.asyncio
async def test_refused_connection_is_not_an_unknown_outcome() -> None:
    """Nothing was sent when the connection is refused: a plain retry, no unknown outcome."""
    adapter = TwilioSms(
        _settings(
            twilio_account_sid="AC" + "1" * 32,
            twilio_auth_token="token",
            twilio_from="+14155552345",
            twilio_api_base=f"http://127.0.0.1:{_closed_port()}",
        )
    )
    try:
        with pytest.raises(SendError) as caught:
            await adapter.send(SMS)
    finally:
        await adapter.close()
    assert caught.value.retryable and not caught.value.outcome_unknown


@pytest.mark.asyncio
async def test_android_gateway_timeout_is_retried_safely_with_our_id() -> None:
    """The SMS gateway takes our id: after a lost answer the retry gets 409 and counts as sent, one SMS."""
    async with FakeAndroidGateway("user", "pass") as gateway:
        gateway.hang_after_receiving = 1
        adapter = AndroidSmsGateway(
            _settings(
                android_sms_gateway_url=gateway.url,
                android_sms_gateway_username="user",
                android_sms_gateway_password="pass",
            )
        )
        try:
            with pytest.raises(SendError) as caught:
                await adapter.send(SMS)
            result = await adapter.send(SMS)
        finally:
            await adapter.close()
        assert list(gateway.messages) == [SMS.id] and len(gateway.requests) == 2
    assert caught.value.retryable and not caught.value.outcome_unknown
    assert result.provider_message_id == SMS.id
    assert AndroidSmsGateway.idempotent_sends


@pytest.mark.asyncio
async def test_smtp_timeout_after_data_is_an_unknown_outcome() -> None:
    """The SMTP server took the mail but never answered DATA: unknown outcome (SMTP has no idempotency key)."""
    with SmtpSink() as sink:
        sink.hang_after_data()
        sender = EmailSender(
            _settings(
                smtp_host=sink.host, smtp_port=sink.port, smtp_starttls=False, mail_from="pengaduan@kotabogor.go.id"
            )
        )
        reply = OutboundReply(id="r1", channel="email", provider="email", address="warga@example.org", text="Tiket")
        with pytest.raises(SendError) as caught:
            await sender.send(reply)
        assert len(sink.messages) == 1
    assert caught.value.retryable and caught.value.outcome_unknown


@pytest.mark.asyncio
async def test_smtp_server_unreachable_is_not_an_unknown_outcome() -> None:
    """No SMTP connection means no mail went out: a plain retry."""
    sender = EmailSender(
        _settings(
            smtp_host="127.0.0.1", smtp_port=_closed_port(), smtp_starttls=False, mail_from="pengaduan@kotabogor.go.id"
        )
    )
    reply = OutboundReply(id="r2", channel="email", provider="email", address="warga@example.org", text="Tiket")
    with pytest.raises(SendError) as caught:
        await sender.send(reply)
    assert caught.value.retryable and not caught.value.outcome_unknown
