"""A failed answer reaches the operator, and a citizen writing on a closed case attaches to it.

Real parts: SQLite, the send worker against a fake Twilio server over HTTP, Kannel's delivery
report through the gateway's webhook over HTTP, the verify worker on normalised envelopes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from channels.registry import Adapters
from channels.sms.twilio import TwilioSms
from complaints import store
from complaints.answers import queue_answer
from complaints.models import CaseNote, Complaint, HistoryEntry, Reply
from gateway.app import create_app
from normalizer.envelope import Attachment, Intake, ReplyRoute
from normalizer.normalize import build_envelope
from tests.conftest import base_settings
from tests.support.cases import EMAIL, PHONE, seed_case
from tests.support.fake_twilio import FakeTwilio
from workers.outbound import OutboundSender
from workers.reply import send_batch
from workers.runtime import Runtime
from workers.setup import build_runtime
from workers.verify import verify_batch

TWILIO = {"twilio_account_sid": "AC" + "1" * 32, "twilio_auth_token": "secret", "twilio_from": "+15005550006"}
KANNEL = {
    "kannel_sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms",
    "kannel_username": "u",
    "kannel_password": "p",
    "kannel_inbound_token": "dlr-token",
}
ANSWER = "Lampu jalan di Jl. Pajajaran sudah diganti."


def _approved(runtime: Runtime, ticket: str, **fields: Any) -> tuple[str, list[str]]:
    """A closed case with an approved answer queued; its id and the reply ids."""
    with runtime.sf.begin() as session:
        case = seed_case(session, ticket, "selesai", answer_text=ANSWER, **fields)
        ids = queue_answer(session, case, config=runtime.config, settings=runtime.settings)
        return case.id, ids


def _case(runtime: Runtime, case_id: str) -> tuple[Complaint, list[str]]:
    with runtime.read_sf() as session:
        case = session.get(Complaint, case_id)
        assert case is not None
        actions = list(session.scalars(select(HistoryEntry.action).where(HistoryEntry.complaint_id == case_id)))
        return case, actions


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["answer", "ack"])
async def test_answer_refused_by_the_provider_flags_the_case(tmp_path: Path, kind: str) -> None:
    """Twilio refuses the number for good: the answer's reply is failed and its case flagged; an ack's is not."""
    async with FakeTwilio(TWILIO["twilio_account_sid"], TWILIO["twilio_auth_token"]) as twilio:
        settings = base_settings(tmp_path, twilio_api_base=twilio.url, **TWILIO)
        runtime = build_runtime(settings)
        try:
            case_id, ids = _approved(runtime, "BGR-3B3B3B3", reply_provider="twilio")
            if kind != "answer":
                with runtime.sf.begin() as session:
                    session.get(Reply, ids[0]).kind = kind  # type: ignore[union-attr]
            runtime.outbound = OutboundSender(settings, adapters=Adapters(outbound={"twilio": TwilioSms(settings)}))
            twilio.fail_next(400, code=21211, message="The 'To' number is not a valid phone number.")
            result = await asyncio.to_thread(send_batch, runtime, ids)
            assert result.failed == {}  # permanent: no retry
            assert len(twilio.requests) == 1
            with runtime.read_sf() as session:
                assert session.get(Reply, ids[0]).status == "failed"  # type: ignore[union-attr]
            case, actions = _case(runtime, case_id)
            if kind == "answer":
                assert case.attention == "delivery_failed" and "delivery_failed" in actions
            else:
                assert case.attention is None and "delivery_failed" not in actions
        finally:
            runtime.close()


@pytest.mark.asyncio
async def test_kannel_report_of_an_undelivered_answer_flags_the_case(tmp_path: Path) -> None:
    """Kannel's DLR "undelivered" (type 2) on the answer, through the webhook: failed, flagged, noted."""
    settings = base_settings(tmp_path, **KANNEL)
    runtime = build_runtime(settings)
    try:
        case_id, ids = _approved(runtime, "BGR-3B3B3B4", reply_provider="kannel")
        async with TestClient(TestServer(create_app(settings, runtime))) as client:
            resp = await client.get(
                "/channels/sms/kannel", params={"token": "dlr-token", "reply": ids[0], "dlr": "2", "answer": "NACK"}
            )
            assert resp.status == 200, await resp.text()
        with runtime.read_sf() as session:
            assert session.get(Reply, ids[0]).status == "failed"  # type: ignore[union-attr]
        case, actions = _case(runtime, case_id)
        assert case.attention == "delivery_failed" and actions.count("delivery_failed") == 1
    finally:
        runtime.close()


def test_late_failure_of_an_answer_sent_again_does_not_flag_again(tmp_path: Path) -> None:
    """A report on the first attempt arriving after the answer was sent again leaves the case alone."""
    runtime = build_runtime(base_settings(tmp_path, **KANNEL))
    try:
        case_id, first = _approved(runtime, "BGR-3B3B3B5", reply_provider="kannel")
        with runtime.sf.begin() as session:
            case = session.get(Complaint, case_id)
            assert case is not None
            assert queue_answer(session, case, config=runtime.config, settings=runtime.settings, round_id="again")
        with runtime.sf.begin() as session:
            assert store.apply_delivery_update(session, status="failed", reply_id=first[0])
        case, actions = _case(runtime, case_id)
        assert case.attention is None and "delivery_failed" not in actions
    finally:
        runtime.close()


# --------------------------------------------------------------------------- follow-ups


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(base_settings(tmp_path, **KANNEL))
    try:
        yield rt
    finally:
        rt.close()


def _incoming(runtime: Runtime, text: str, *, sender: str = PHONE, **intake: Any) -> list[str]:
    """One SMS (or other) message accepted and verified as in production; the send_reply ids it queued."""
    channel = intake.pop("channel", "sms")
    envelope = build_envelope(
        Intake(
            channel=channel,
            provider="kannel" if channel == "sms" else channel,
            external_id=f"{channel}:{abs(hash((text, sender)))}",
            sender=sender,
            text=text,
            reply_route=ReplyRoute(channel=channel, address=sender, provider="kannel" if channel == "sms" else channel),
            **intake,
        )
    )
    (outcome,) = store.accept_batch(runtime.sf, [envelope])
    result = verify_batch(runtime, [outcome.inbox_id])
    assert not result.failed
    return result.follow_ups.get("send_reply", [])


def _notes(runtime: Runtime, case_id: str) -> list[CaseNote]:
    with runtime.read_sf() as session:
        return list(session.scalars(select(CaseNote).where(CaseNote.complaint_id == case_id).order_by(CaseNote.id)))


def test_message_quoting_the_ticket_attaches_to_the_closed_case(runtime: Runtime) -> None:
    """A new SMS from the case's own number quoting its ticket: no new case, a citizen note, the case flagged."""
    with runtime.sf.begin() as session:
        case_id = seed_case(session, "BGR-3B3B3B6", "selesai", answer_text=ANSWER).id
    _incoming(runtime, "Tiket bgr-3b3b3b6: lampunya mati lagi sejak semalam")
    with runtime.read_sf() as session:
        assert session.scalar(select(Complaint.id).where(Complaint.id != case_id)) is None  # no new case
    (note,) = _notes(runtime, case_id)
    assert (note.kind, note.author_role, note.internal) == ("citizen_message", "citizen", False)
    assert "lampunya mati lagi" in note.text
    case, actions = _case(runtime, case_id)
    assert case.attention == "citizen_message" and "citizen_message" in actions


def test_ticket_quoted_from_another_number_opens_a_new_case(runtime: Runtime) -> None:
    """Someone else quoting the ticket does not get to write on the case."""
    with runtime.sf.begin() as session:
        case_id = seed_case(session, "BGR-3B3B3B7", "selesai", answer_text=ANSWER).id
    _incoming(runtime, "Soal BGR-3B3B3B7, di gang saya juga mati", sender="+6281311112222")
    assert _notes(runtime, case_id) == []
    case, _ = _case(runtime, case_id)
    assert case.attention is None


def test_follow_up_on_an_open_case_is_noted_without_a_flag(runtime: Runtime) -> None:
    """On a case still with the OPD the message joins the conversation; the inbox already lists the case."""
    with runtime.sf.begin() as session:
        case_id = seed_case(session, "BGR-3B3B3B8", "dianalisa", opd_code="pupr").id
    _incoming(runtime, "BGR-3B3B3B8 tambahan: lubangnya makin besar")
    (note,) = _notes(runtime, case_id)
    assert note.kind == "citizen_message" and "makin besar" in note.text
    case, _ = _case(runtime, case_id)
    assert case.attention is None


def test_email_reply_with_a_photo_keeps_the_photo_on_the_note(runtime: Runtime) -> None:
    """An e-mail quoting the ticket in its subject, with a photo: the note lists the file."""
    with runtime.sf.begin() as session:
        case_id = seed_case(
            session, "BGR-3B3B3B9", "selesai", answer_text=ANSWER, reply_channel="email", reply_address=EMAIL
        ).id
    photo = Attachment(sha256="ab" * 32, size=2048, content_type="image/jpeg", filename="lampu.jpg")
    _incoming(
        runtime,
        "Masih gelap, lihat foto.",
        sender=EMAIL,
        channel="email",
        subject="Re: Jawaban [BGR-3B3B3B9]",
        attachments=(photo,),
    )
    (note,) = _notes(runtime, case_id)
    assert note.attachments == {
        "files": [{"sha256": "ab" * 32, "size": 2048, "content_type": "image/jpeg", "filename": "lampu.jpg"}]
    }
    case, _ = _case(runtime, case_id)
    assert case.attention == "citizen_message"


def test_cek_on_a_closed_case_is_answered_and_reaches_the_operator(runtime: Runtime) -> None:
    """`CEK <ticket>` from the case's own number after closing: the status goes back, and the case is flagged."""
    with runtime.sf.begin() as session:
        case_id = seed_case(session, "BGR-3B3B3BA", "selesai", answer_text=ANSWER).id
    (reply_id,) = _incoming(runtime, "CEK BGR-3B3B3BA")
    with runtime.read_sf() as session:
        reply = session.get(Reply, reply_id)
        assert reply is not None and reply.kind == "status" and "BGR-3B3B3BA" in reply.text
    (note,) = _notes(runtime, case_id)
    assert note.kind == "citizen_message" and "CEK" in note.text
    case, _ = _case(runtime, case_id)
    assert case.attention == "citizen_message"


def test_cek_from_another_number_is_only_answered(runtime: Runtime) -> None:
    """Anyone may ask the status of a ticket; only the case's own address reaches the operator."""
    with runtime.sf.begin() as session:
        case_id = seed_case(session, "BGR-3B3B3BB", "selesai", answer_text=ANSWER).id
    assert len(_incoming(runtime, "CEK BGR-3B3B3BB", sender="+6281311112222")) == 1
    assert _notes(runtime, case_id) == []
    case, _ = _case(runtime, case_id)
    assert case.attention is None


def test_failed_delivery_is_not_hidden_by_a_citizen_message(runtime: Runtime) -> None:
    """A case whose answer failed stays flagged as such when the citizen writes (the message is still noted)."""
    with runtime.sf.begin() as session:
        case_id = seed_case(session, "BGR-3B3B3BC", "selesai", answer_text=ANSWER, attention="delivery_failed").id
    _incoming(runtime, "BGR-3B3B3BC sudah ada jawaban?")
    assert len(_notes(runtime, case_id)) == 1
    case, _ = _case(runtime, case_id)
    assert case.attention == "delivery_failed"


def test_reply_to_a_web_form_answer_sent_by_email_attaches(runtime: Runtime) -> None:
    """A web-form case answered by e-mail: the citizen's e-mail reply quoting the ticket joins the case."""
    with runtime.sf.begin() as session:
        case_id = seed_case(
            session, "BGR-3B3B3BD", "selesai", answer_text=ANSWER, reply_channel="web", reply_address=EMAIL
        ).id
    _incoming(
        runtime, "Terima kasih, sudah beres.", sender=EMAIL, channel="email", subject="Re: Jalan rusak [BGR-3B3B3BD]"
    )
    (note,) = _notes(runtime, case_id)
    assert "sudah beres" in note.text
    with runtime.read_sf() as session:
        assert session.scalar(select(Complaint.id).where(Complaint.id != case_id)) is None
