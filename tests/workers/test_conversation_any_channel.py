"""The guided conversation on a chat channel no code knows: adding one needs no edit in workers/.

A made-up channel ("sinyal") sends its turns through the real normaliser, accept path and verify
stage, on the real SQLite store; only typed envelope fields tell the worker what each message is.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from complaints import store
from complaints.models import Complaint, Conversation, Reply
from complaints.replies import render_reply
from normalizer.envelope import ChatTurn, Intake, RemoteFile, ReplyRoute
from normalizer.normalize import build_envelope
from tests.conftest import base_settings
from tests.support.city import copy_config, edit
from workers.route import route_batch
from workers.runtime import Runtime
from workers.setup import build_runtime
from workers.verify import verify_batch

CHANNEL = "sinyal"  # no adapter, template or worker branch has ever heard of it
CHAT = "chat-4242"
NIK = "3271014505900002"  # Kota Bogor, district 32.71.01, a woman born 05-05-1990
ADDRESS = "Jl. Pajajaran No. 5, RT 02/RW 03, Bogor Tengah"


class Chat:
    """One citizen's chat on the made-up channel: each message is accepted and verified like production."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.ids = itertools.count(1)

    def send(self, text: str = "", *, turn: ChatTurn | None = None, **intake: Any) -> str:
        """Deliver one message; return the text of the single reply the turn queued."""
        message_id = f"m{next(self.ids)}"
        envelope = build_envelope(
            Intake(
                channel=CHANNEL,
                provider="sinyal-cloud",
                external_id=f"sinyal:{message_id}",
                sender=CHAT,
                text=text,
                reply_route=ReplyRoute(channel=CHANNEL, address=CHAT, thread_ref=message_id, provider="sinyal-cloud"),
                kind="conversation",
                # An adapter that says nothing more sends a text turn; the normaliser reads commands.
                turn=replace(turn, message_id=turn.message_id or message_id) if turn else None,
                **intake,
            )
        )
        (outcome,) = store.accept_batch(self.runtime.sf, [envelope])
        result = verify_batch(self.runtime, [outcome.inbox_id])
        assert not result.failed
        # The turn that completes the report opens the case: routing then sends the acknowledgement.
        routed = route_batch(self.runtime, result.follow_ups.get("route_to_opd", []))
        assert not routed.failed
        ids = [*result.follow_ups.get("send_reply", []), *routed.follow_ups.get("send_reply", [])]
        with self.runtime.read_sf() as session:
            replies = session.scalars(select(Reply).where(Reply.id.in_(ids))).all()
            assert len(replies) == 1 and (replies[0].channel, replies[0].address) == (CHANNEL, CHAT)
            return replies[0].text


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Chat]:
    """A runtime on a fresh SQLite file and a chat on the made-up channel."""
    runtime = build_runtime(base_settings(tmp_path))
    try:
        yield Chat(runtime)
    finally:
        runtime.close()


def test_a_new_chat_channel_runs_the_whole_guided_report(chat: Chat) -> None:
    """/lapor, a photo to fetch later, the identity questions and a shared contact open a verified case."""
    assert "isi pengaduan" in chat.send("/lapor").lower()
    photo = RemoteFile("sinyal-cloud", "file-123", "image/png", 2048)
    answer = chat.send(
        "Jalan berlubang besar di depan Kebun Raya", turn=ChatTurn("photo"), attachments_to_fetch=(photo,)
    )
    assert "Foto diterima" in answer and "NIK" in answer
    assert "nama" in chat.send(NIK).lower()
    assert "alamat" in chat.send("Siti Aminah").lower()
    assert "telepon" in chat.send(ADDRESS).lower()
    assert "e-mail" in chat.send(turn=ChatTurn("contact", contact_phone="+6281234567890")).lower()
    ack = chat.send("-")
    assert "BGR-" in ack and NIK not in ack and "Siti" not in ack
    with chat.runtime.read_sf() as session:
        case = session.scalars(select(Complaint)).one()
        assert (case.channel, case.reply_channel, case.reply_address) == (CHANNEL, CHANNEL, CHAT)
        assert (case.nik, case.name, case.address, case.phone) == (NIK, "Siti Aminah", ADDRESS, "+6281234567890")
        assert case.status == "disposisi" and case.text.startswith("Jalan berlubang")
        assert case.attachments is not None
        assert case.attachments["to_fetch"] == [
            {"provider": "sinyal-cloud", "ref": "file-123", "content_type": "image/png", "size": 2048}
        ]
        # The finished conversation keeps no personal data.
        assert session.get(Conversation, f"{CHANNEL}:{CHAT}").state == {"lang": "id"}


def test_rahasia_and_anonim_in_a_chat_protect_the_case_it_opens(chat: Chat) -> None:
    """Issue 14: "RAHASIA ANONIM" leading a chat message starts a report whose case carries both flags;
    the words are not part of the complaint text."""
    assert "NIK" in chat.send("RAHASIA ANONIM Pungli di kantor kelurahan setiap mengurus surat")
    chat.send(NIK)
    chat.send("Siti Aminah")
    chat.send(ADDRESS)
    chat.send(turn=ChatTurn("contact", contact_phone="+6281234567890"))
    assert "BGR-" in chat.send("-")
    with chat.runtime.read_sf() as session:
        case = session.scalars(select(Complaint)).one()
        assert case.rahasia and case.anonim
        assert case.text.startswith("Pungli di kantor") and "RAHASIA" not in case.text


def test_status_command_and_unusable_content(chat: Chat) -> None:
    """/cek answers the status on the same channel, and content the chat cannot use is named."""
    assert "BGR-2222222" in chat.send("/cek BGR-2222222")
    assert "teks, foto, dan lokasi" in chat.send(turn=ChatTurn("other"))


def test_an_edit_changes_the_answer_it_gave(chat: Chat) -> None:
    """An edited message (typed edit flag and message id) replaces the answer that message gave."""
    chat.send("/lapor Lampu jalan mati di Jl. Sudirman dekat sekolah")
    assert "nama" in chat.send(NIK).lower()  # m2: the NIK
    answer = chat.send("3271994505900002", turn=ChatTurn(message_id="m2", edited=True))
    assert "NIK (kode wilayah salah)" in answer and "Mohon kirim NIK" in answer
    with chat.runtime.read_sf() as session:
        assert "nik" not in session.get(Conversation, f"{CHANNEL}:{CHAT}").state["identity"]


def test_a_channel_may_word_the_conversation_its_own_way(tmp_path: Path) -> None:
    """A template variant named after the channel (data in the city's reply file) is used for that channel only."""
    config_dir = copy_config(tmp_path / "city")
    edit(
        config_dir / "replies" / "id.yaml",
        "  chat_ask_text:\n",
        f"  chat_ask_text:\n    {CHANNEL}: Ceritakan di sini.\n",
    )
    runtime = build_runtime(base_settings(tmp_path, config_dir=config_dir))
    try:
        assert Chat(runtime).send("/lapor") == "Ceritakan di sini."
        assert "Ceritakan" not in render_reply(runtime.config.replies, "chat_ask_text", "id", channel="telegram")
    finally:
        runtime.close()
