"""Where the approved answer goes, per reply channel, and what it says there (real SQLite, real templates)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from channels.base import OutboundReply
from channels.email.sender import EmailSender
from channels.x.channel import XChannel
from complaints.answers import answer_route, deliveries, mask_address, queue_answer
from complaints.models import Complaint, HistoryEntry, Reply
from complaints.replies import reply_renderer
from normalizer.text import sms_segments
from tests.conftest import base_settings
from tests.support.cases import EMAIL, PHONE, seed_case
from workers.runtime import Runtime
from workers.setup import build_runtime

KANNEL = {
    "kannel_sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms",
    "kannel_username": "u",
    "kannel_password": "p",
    "kannel_inbound_token": "t",
}
TWILIO = {"twilio_account_sid": "AC123", "twilio_auth_token": "secret", "twilio_from": "+15005550006"}
SMTP = {"smtp_host": "127.0.0.1", "mail_from": "pengaduan@kotabogor.go.id"}
BASE = "https://lapor.kotabogor.go.id"
SHORT = "Lubang di Jl. Pajajaran sudah ditambal pada 3 Desember."
# Issue 14: the answer invites the citizen to rate it (config/replies/id.yaml).
RATE_INVITE = "\n\nPuas dengan jawaban ini? Balas PUAS, atau TIDAK PUAS diikuti alasannya."
RATE_INVITE_SMS = " Balas PUAS/TIDAK PUAS+alasan"
# About 900 characters: six SMS parts, more than the default four.
LONG = " ".join(f"Kalimat {i} dari jawaban dinas tentang perbaikan jalan di wilayah Anda." for i in range(12))
MAIL_THREAD = '{"subject": "Jalan rusak", "message_id": "<c1@warga.example>", "references": ["<c0@warga.example>"]}'


def make_runtime(tmp_path: Path, **settings: Any) -> Runtime:
    return build_runtime(base_settings(tmp_path, public_base_url=BASE, **settings))


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = make_runtime(tmp_path, **KANNEL, **SMTP)
    try:
        yield rt
    finally:
        rt.close()


def answer(runtime: Runtime, ticket: str, text: str = SHORT, **fields: Any) -> tuple[list[Reply], Complaint]:
    """Seed a case with ``fields``, approve ``text`` as its answer, queue it; the rows and the case."""
    with runtime.sf.begin() as session:
        case = seed_case(session, ticket, "selesai", answer_text=text, **fields)
        ids = queue_answer(session, case, config=runtime.config, settings=runtime.settings)
    with runtime.read_sf() as session:
        rows = list(session.scalars(select(Reply).where(Reply.id.in_(ids))))
        all_rows = session.scalars(select(Reply).where(Reply.complaint_id == case.id)).all()
        assert len(all_rows) == len(rows)  # nothing queued that was not handed to send_reply
        return rows, session.get(Complaint, case.id)  # type: ignore[return-value]


def test_sms_answer_goes_back_through_the_provider_it_came_from(runtime: Runtime) -> None:
    """A short answer to an SMS complaint: one row to the sender's number via Kannel, ticket and answer in it."""
    (row,), _ = answer(runtime, "BGR-2A2A2A2", reply_channel="sms", reply_provider="kannel", reply_address=PHONE)
    assert (row.kind, row.channel, row.provider, row.address) == ("answer", "sms", "kannel", PHONE)
    assert row.text == f"BGR-2A2A2A2: {SHORT}{RATE_INVITE_SMS}"


def test_long_sms_answer_goes_whole_as_concatenated_parts(runtime: Runtime) -> None:
    """An answer of three SMS parts is sent whole (no link, nothing cut)."""
    text = LONG[:390].strip()  # with the rating invitation, three parts
    (row,), _ = answer(runtime, "BGR-2A2A2A3", text, reply_channel="sms", reply_provider="kannel")
    assert row.text == f"BGR-2A2A2A3: {text}{RATE_INVITE_SMS}"
    assert sms_segments(row.text) == 3


def test_too_long_sms_answer_is_shortened_and_ends_with_the_tracking_link(runtime: Runtime) -> None:
    """Past ANSWER_SMS_MAX_PARTS the answer is cut at a word and the tracking link follows, within four parts."""
    (row,), _ = answer(runtime, "BGR-2A2A2A4", LONG, reply_channel="sms", reply_provider="kannel")
    link = f"{BASE}/lacak/BGR-2A2A2A4"
    assert row.text.endswith(f"... {link}")
    assert sms_segments(row.text) == 4
    assert row.text.startswith("BGR-2A2A2A4: Kalimat 0 dari jawaban")


def test_fewer_sms_parts_when_the_city_sets_fewer(tmp_path: Path) -> None:
    """ANSWER_SMS_MAX_PARTS=2 keeps the answer to two parts, link included."""
    rt = make_runtime(tmp_path, answer_sms_max_parts=2, **KANNEL)
    try:
        (row,), _ = answer(rt, "BGR-2A2A2A5", LONG, reply_channel="sms", reply_provider="kannel")
        assert sms_segments(row.text) == 2 and row.text.endswith(f"{BASE}/lacak/BGR-2A2A2A5")
    finally:
        rt.close()


def test_email_answer_is_threaded_into_the_citizens_mail(runtime: Runtime) -> None:
    """E-mail answer threaded: In-Reply-To and References name the citizen's mail, the subject the ticket."""
    (row,), _ = answer(
        runtime,
        "BGR-2A2A2A6",
        reply_channel="email",
        reply_provider="email",
        reply_address=EMAIL,
        reply_thread_ref=MAIL_THREAD,
    )
    assert (row.channel, row.provider, row.address) == ("email", "email", EMAIL)
    message = EmailSender(runtime.settings).build_message(
        OutboundReply(
            id=row.id,
            channel=row.channel,
            provider=row.provider,
            address=row.address,
            text=row.text,
            thread_ref=row.thread_ref,
            ticket="BGR-2A2A2A6",
            kind=row.kind,
        )
    )
    assert message["In-Reply-To"] == "<c1@warga.example>"
    assert "<c0@warga.example>" in message["References"] and "<c1@warga.example>" in message["References"]
    assert "BGR-2A2A2A6" in message["Subject"] and "Jalan rusak" in message["Subject"]
    assert SHORT in message.get_content()


@pytest.mark.parametrize(
    ("channel", "provider", "address", "thread"),
    [
        ("telegram", "telegram", "1111111", "42"),
        ("whatsapp", "whatsapp", "6281234567890", None),
        ("app", "app", "dev123", None),
        ("x", "x", "98765", "1790000000000000001"),
    ],
)
def test_chat_and_app_answers_go_back_in_the_same_chat(
    runtime: Runtime, channel: str, provider: str, address: str, thread: str | None
) -> None:
    """Telegram, WhatsApp, the app and X: the answer goes whole to the same chat (X: threaded to the mention)."""
    (row,), _ = answer(
        runtime,
        "BGR-2A2A2A7",
        LONG,
        reply_channel=channel,
        reply_provider=provider,
        reply_address=address,
        reply_thread_ref=thread,
    )
    assert (row.channel, row.provider, row.address, row.thread_ref) == (channel, provider, address, thread)
    assert LONG in row.text


def test_x_says_answered_in_public_and_sends_the_answer_by_dm(runtime: Runtime) -> None:
    """The public reply to the mention says "answered, see your DM" with the tracking link, never the answer."""
    x = XChannel(runtime.settings, texts=reply_renderer(runtime.config.replies))
    reply = OutboundReply(
        id="r1",
        channel="x",
        provider="x",
        address="98765",
        text=f"answer {SHORT}",
        thread_ref="1790",
        ticket="BGR-2A2A2A8",
        kind="answer",
    )
    public = x.public_text(reply)
    assert (
        public
        == f"Pengaduan BGR-2A2A2A8 sudah dijawab. Jawabannya kami kirim lewat DM; lacak di {BASE}/lacak/BGR-2A2A2A8"
    )
    assert SHORT not in public


def test_web_form_answer_goes_by_email_when_given(runtime: Runtime) -> None:
    """A web-form complaint with an e-mail address is answered by e-mail (subject carries the ticket)."""
    (row,), _ = answer(runtime, "BGR-2A2A2A9", reply_channel="web", reply_provider="web", reply_address=EMAIL)
    assert (row.channel, row.provider, row.address) == ("email", "email", EMAIL)
    assert row.text == f"Jawaban atas pengaduan BGR-2A2A2A9: {SHORT}{RATE_INVITE}"
    message = EmailSender(runtime.settings).build_message(
        OutboundReply(
            id=row.id,
            channel="email",
            provider="email",
            address=EMAIL,
            text=row.text,
            thread_ref=row.thread_ref,
            ticket="BGR-2A2A2A9",
            kind="answer",
        )
    )
    # The complaint's own subject from the form, and the ticket: the citizen's reply finds the case again.
    assert message["Subject"] == "Re: Jalan rusak [BGR-2A2A2A9]"
    assert message["In-Reply-To"] is None


def test_web_form_without_email_is_answered_by_sms_to_the_phone(tmp_path: Path) -> None:
    """No e-mail given (or no SMTP set up): SMS to the phone through SMS_REPLY_PROVIDER."""
    rt = make_runtime(tmp_path, sms_reply_provider="twilio", **KANNEL, **TWILIO)
    try:
        (row,), _ = answer(rt, "BGR-2A2A2AA", reply_channel="web", reply_provider="web", reply_address=PHONE)
        assert (row.channel, row.provider, row.address) == ("sms", "twilio", PHONE)
        assert row.text == f"BGR-2A2A2AA: {SHORT}{RATE_INVITE_SMS}"
    finally:
        rt.close()


def test_web_form_with_no_way_back_flags_the_case(tmp_path: Path) -> None:
    """Neither e-mail nor SMS possible: nothing queued, the case is flagged for the operator with a history note."""
    rt = make_runtime(tmp_path)  # no SMTP, no SMS provider
    try:
        rows, case = answer(rt, "BGR-2A2A2AB", reply_channel="web", reply_provider="web")
        assert rows == [] and case.attention == "delivery_failed"
        with rt.read_sf() as session:
            notes = session.scalars(select(HistoryEntry.action).where(HistoryEntry.complaint_id == case.id)).all()
        assert "delivery_failed" in notes
    finally:
        rt.close()


def test_web_form_with_email_but_no_smtp_falls_back_to_sms(tmp_path: Path) -> None:
    """An e-mail address is of no use without SMTP settings: the phone gets an SMS instead."""
    rt = make_runtime(tmp_path, **KANNEL)
    try:
        (row,), case = answer(rt, "BGR-2A2A2AC", reply_channel="web", reply_provider="web")
        assert (row.channel, row.provider, row.address) == ("sms", "kannel", PHONE)
        assert case.attention is None
    finally:
        rt.close()


@pytest.mark.parametrize(
    ("reply_channel", "expected"), [("sms", ("sms", "kannel", PHONE)), ("email", ("email", "email", EMAIL))]
)
def test_call_centre_entry_without_a_provider_gets_the_configured_one(
    runtime: Runtime, reply_channel: str, expected: tuple[str, str, str]
) -> None:
    """A call-centre entry answered by SMS or e-mail (provider None) goes through the enabled provider."""
    address = PHONE if reply_channel == "sms" else EMAIL
    (row,), _ = answer(
        runtime,
        "BGR-2A2A2AD",
        channel="call_centre",
        reply_channel=reply_channel,
        reply_provider=None,
        reply_address=address,
    )
    assert (row.channel, row.provider, row.address) == expected


def test_phone_answer_queues_nothing(runtime: Runtime) -> None:
    """Answered by a phone call: no message, no flag (the operator's note records the call)."""
    rows, case = answer(runtime, "BGR-2A2A2AE", channel="call_centre", reply_channel="phone", reply_provider=None)
    assert rows == [] and case.attention is None


def test_same_round_is_queued_once(runtime: Runtime) -> None:
    """Approving twice in one round (a re-run) does not send the answer twice; another round does."""
    with runtime.sf.begin() as session:
        case = seed_case(session, "BGR-2A2A2AF", "selesai", answer_text=SHORT, reply_provider="kannel")
        first = queue_answer(session, case, config=runtime.config, settings=runtime.settings)
        again = queue_answer(session, case, config=runtime.config, settings=runtime.settings)
        other = queue_answer(session, case, config=runtime.config, settings=runtime.settings, round_id="r2")
        assert len(first) == 1 and again == [] and len(other) == 1
        assert answer_route(case, runtime.settings) is not None
        shown = deliveries(session, case)
    assert [d.kind for d in shown] == ["answer", "answer"]
    assert all(PHONE not in d.address and d.address.endswith(PHONE[-4:]) for d in shown)


def test_addresses_are_masked_for_the_case_page() -> None:
    """E-mail, phone and chat ids are masked in the delivery list."""
    assert mask_address("email", "siti.rahma@example.net") == "s***@example.net"
    assert mask_address("sms", "+6281298765432") == "+62812****5432"
    assert mask_address("telegram", "123456789") == "…6789"
