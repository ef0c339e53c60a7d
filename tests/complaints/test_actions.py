"""complaints.actions.perform on a real migrated SQLite database: each action's effect on the case,
its notes, the answer and the replies queued to the citizen, and the refusals."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.storage import attachment_path, store_bytes
from complaints import lifecycle
from complaints.actions import (
    ActionForbidden,
    ActionInvalid,
    ActionOutcome,
    ActionRequest,
    Upload,
    perform,
    return_reasons,
)
from complaints.db import make_engine, session_factory, upgrade
from complaints.models import CaseNote, Complaint, HistoryEntry, Reply
from complaints.queries import Viewer
from config.settings import Settings
from normalizer.tickets import new_ticket
from tests.support.cases import EMAIL, PHONE, seed_case
from tests.support.city import shipped_city
from tests.support.images import png

OPERATOR = Viewer(role="operator")
ADMIN = Viewer(role="admin")
DLH = Viewer(role="opd", opd_code="dlh")
CONFIG = shipped_city()
USER_ID = 7


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    """A migrated SQLite database and a session on it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'actions.sqlite3'}")
    upgrade(engine)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with files under tmp_path (the attachment store among them)."""
    return Settings(_env_file=None, data_dir=tmp_path / "var")  # type: ignore[call-arg]


def act(
    db: Session,
    settings: Settings,
    case: Complaint,
    action: str,
    viewer: Viewer = OPERATOR,
    *,
    uploads: tuple[Upload, ...] = (),
    version: int | None = None,
    **fields: str,
) -> ActionOutcome:
    """Post ``action`` on ``case`` as ``viewer`` with the page's version, and flush."""
    outcome = perform(
        db,
        case,
        user_id=USER_ID,
        viewer=viewer,
        request=ActionRequest(action, case.version if version is None else version, fields, uploads),
        config=CONFIG,
        settings=settings,
        store_file=functools.partial(store_bytes, settings.attachments_dir),
    )
    db.flush()
    return outcome


def seed(db: Session, status: str, **fields: Any) -> Complaint:
    """A case in ``status`` at version 1, come in by SMS through Kannel (so answered the same way)."""
    fields.setdefault("reply_provider", "kannel")
    return seed_case(db, new_ticket(), status, **fields)


def replies(db: Session, case: Complaint) -> list[Reply]:
    return list(db.scalars(select(Reply).where(Reply.complaint_id == case.id).order_by(Reply.created_at)))


def notes(db: Session, case: Complaint) -> list[CaseNote]:
    return list(db.scalars(select(CaseNote).where(CaseNote.complaint_id == case.id).order_by(CaseNote.id)))


def history(db: Session, case: Complaint) -> list[tuple[str, str, str | None]]:
    rows = db.scalars(select(HistoryEntry).where(HistoryEntry.complaint_id == case.id).order_by(HistoryEntry.id))
    return [(h.actor, h.action, h.to_status) for h in rows]


def test_verify_clears_the_identity_findings_and_hands_the_case_to_routing(db: Session, settings: Settings) -> None:
    """An operator confirming the identity moves the case on and queues it for the routing worker."""
    case = seed(db, "diterima", identity_problems="nik:format")
    outcome = act(db, settings, case, "verify")
    assert case.status == "diverifikasi" and case.identity_problems is None and case.version == 2
    assert outcome.enqueue == {"route_to_opd": [case.id]} and outcome.flash == "action_done_verify"
    assert history(db, case) == [(f"staff:{USER_ID}", "verify", "diverifikasi")]


def test_dispose_tells_the_citizen_which_opd_handles_it(db: Session, settings: Settings) -> None:
    """Disposing a triage case sets the OPD and queues a one-SMS reply naming the OPD on the citizen's number."""
    case = seed(db, "triase")
    outcome = act(db, settings, case, "dispose", ADMIN, opd="dlh")
    assert case.status == "disposisi" and case.opd_code == "dlh"
    [reply] = replies(db, case)
    assert (reply.kind, reply.channel, reply.address) == ("disposed", "sms", PHONE)
    assert case.ticket in reply.text and CONFIG.opds["dlh"].short_name in reply.text and len(reply.text) <= 160
    assert outcome.enqueue == {"send_reply": [reply.id]}


def test_dispose_needs_a_known_opd(db: Session, settings: Settings) -> None:
    """An OPD code not in the config is a form error; the case stays where it was."""
    case = seed(db, "diverifikasi")
    for opd in ("", "nope"):
        with pytest.raises(ActionInvalid) as exc:
            act(db, settings, case, "dispose", opd=opd)
        assert exc.value.errors == {"opd": "required" if not opd else "opd_unknown"}
    assert case.status == "diverifikasi" and case.opd_code is None and replies(db, case) == []


def test_reroute_records_the_reason_and_tells_the_citizen_again(db: Session, settings: Settings) -> None:
    """A re-route to another OPD keeps an internal reason and queues a second "disposed" reply."""
    case = seed(db, "triase")
    act(db, settings, case, "dispose", opd="dlh")
    with pytest.raises(ActionInvalid) as exc:
        act(db, settings, case, "reroute", opd="dlh", reason="salah")
    assert exc.value.errors == {"opd": "opd_same"}
    with pytest.raises(ActionInvalid) as exc:
        act(db, settings, case, "reroute", opd="dishub", reason="  ")
    assert exc.value.errors == {"reason": "required"}
    act(db, settings, case, "reroute", opd="dishub", reason="Urusan lalu lintas")
    assert case.status == "disposisi" and case.opd_code == "dishub"
    [note] = notes(db, case)
    assert (note.kind, note.text, note.internal, note.author_id) == ("reroute_reason", "Urusan lalu lintas", True, 7)
    texts = [r.text for r in replies(db, case) if r.kind == "disposed"]
    assert len(texts) == 2 and CONFIG.opds["dishub"].short_name in texts[1]


def test_return_to_citizen_sends_the_reason_on_their_channel(db: Session, settings: Settings) -> None:
    """The reason (edited from a template) reaches the citizen by e-mail and is kept as a visible note."""
    case = seed(db, "diverifikasi", reply_channel="email", reply_address=EMAIL)
    reasons = {r.key: r for r in return_reasons(CONFIG, "id")}
    assert {"identitas_tidak_lengkap", "bukan_wewenang_pemkot", "kurang_jelas", "duplikat"} <= set(reasons)
    assert return_reasons(CONFIG, "en")[0].label != reasons["identitas_tidak_lengkap"].label
    with pytest.raises(ActionInvalid) as exc:
        act(db, settings, case, "return_to_citizen", reason_template="kurang_jelas", reason="")
    assert exc.value.errors == {"reason": "required"}
    with pytest.raises(ActionInvalid) as exc:
        act(db, settings, case, "return_to_citizen", reason_template="tidak_ada", reason="Alasan")
    assert exc.value.errors == {"reason_template": "reason_template_unknown"}
    reason = reasons["kurang_jelas"].text + " Sebutkan nama jalannya."
    outcome = act(db, settings, case, "return_to_citizen", reason_template="kurang_jelas", reason=reason)
    assert case.status == "dikembalikan_ke_pelapor"
    [reply] = replies(db, case)
    assert (reply.kind, reply.channel, reply.address) == ("returned_by_operator", "email", EMAIL)
    assert reason in reply.text and case.ticket in reply.text
    assert outcome.enqueue == {"send_reply": [reply.id]}
    [note] = notes(db, case)
    assert (note.kind, note.text, note.internal) == ("return_reason", reason, False)


def test_return_to_citizen_by_sms_is_fitted(db: Session, settings: Settings) -> None:
    """On SMS the returned reason is shortened to two messages at most."""
    case = seed(db, "triase")
    act(db, settings, case, "return_to_citizen", reason="Mohon lengkapi alamat kejadian. " * 20)
    [reply] = replies(db, case)
    assert reply.channel == "sms" and reply.text.startswith(f"Pengaduan {case.ticket} dikembalikan: Mohon")
    assert len(reply.text) <= 2 * 153


def test_opd_accepts_follows_up_with_photos_and_answers(db: Session, settings: Settings) -> None:
    """The OPD's path: accept, follow-up with a stored PNG, another note, the answer to the operator."""
    case = seed(db, "disposisi", opd_code="dlh")
    act(db, settings, case, "accept", DLH)
    assert case.status == "dianalisa"
    photo = png(4, 4)
    act(db, settings, case, "follow_up", DLH, note="Sampah diangkut", uploads=(Upload("a.png", "image/png", photo),))
    assert case.status == "ditindaklanjuti"
    act(db, settings, case, "note", DLH, note="Dicek lagi esok hari")
    assert case.status == "ditindaklanjuti" and case.version == 3  # a note is not a move
    act(db, settings, case, "answer", DLH, answer="Sampah sudah diangkut.")
    assert case.status == "dijawab" and case.answer_text == "Sampah sudah diangkut."
    kinds = [(n.kind, n.text, n.author_role) for n in notes(db, case)]
    assert kinds == [
        ("follow_up", "Sampah diangkut", "opd"),
        ("follow_up", "Dicek lagi esok hari", "opd"),
        ("answer", "Sampah sudah diangkut.", "opd"),
    ]
    [file] = notes(db, case)[0].attachments["files"]  # type: ignore[index]
    assert file["content_type"] == "image/png" and file["size"] == len(photo) and file["filename"] == "a.png"
    assert attachment_path(settings.attachments_dir, file["sha256"]).read_bytes() == photo
    assert replies(db, case) == []  # nothing reaches the citizen before the operator approves


@pytest.mark.parametrize(
    ("uploads", "error"),
    [
        ((Upload("notes.txt", "image/png", b"just some text"),), "photo_type"),
        ((Upload("x.webp", "image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8 "),), "photo_type"),
        (tuple(Upload(f"{n}.png", "image/png", png(n + 1, 1)) for n in range(6)), "photos_too_many"),
    ],
    ids=["text-file", "webp", "six-photos"],
)
def test_follow_up_refuses_bad_photos(db: Session, settings: Settings, uploads: tuple[Upload, ...], error: str) -> None:
    """Only up to five JPEG/PNG photos (by their bytes) go with a follow-up; nothing is stored otherwise."""
    case = seed(db, "dianalisa", opd_code="dlh")
    with pytest.raises(ActionInvalid) as exc:
        act(db, settings, case, "follow_up", DLH, note="Sudah dicek", uploads=uploads)
    assert exc.value.errors == {"photos": error}
    assert case.status == "dianalisa" and not settings.attachments_dir.exists()


def test_follow_up_refuses_a_photo_over_the_upload_limit(db: Session, tmp_path: Path) -> None:
    """A photo larger than MAX_UPLOAD_BYTES is refused like on the web form."""
    small = Settings(_env_file=None, data_dir=tmp_path / "var", max_upload_bytes=1000)  # type: ignore[call-arg]
    case = seed(db, "dianalisa", opd_code="dlh")
    big = png() + b"\x00" * 1000
    with pytest.raises(ActionInvalid) as exc:
        act(db, small, case, "follow_up", DLH, note="x", uploads=(Upload("big.png", "image/png", big),))
    assert exc.value.errors == {"photos": "photo_too_large"}


def test_return_to_operator_and_send_back_keep_internal_notes(db: Session, settings: Settings) -> None:
    """The OPD's reason for returning and the operator's send-back note are internal notes."""
    returned = seed(db, "disposisi", opd_code="dlh")
    with pytest.raises(ActionInvalid):
        act(db, settings, returned, "return_to_operator", DLH)
    act(db, settings, returned, "return_to_operator", DLH, reason="Bukan wewenang DLH")
    assert returned.status == "dikembalikan_ke_operator"
    answered = seed(db, "dijawab", opd_code="dlh", answer_text="Sudah.")
    act(db, settings, answered, "send_back", note="Lampirkan foto hasil")
    assert answered.status == "ditindaklanjuti"
    assert [(n.kind, n.internal) for n in notes(db, returned) + notes(db, answered)] == [
        ("return_reason", True),
        ("send_back", True),
    ]


def test_approve_from_answered_receives_and_closes_in_one_click(db: Session, settings: Settings) -> None:
    """Approving an OPD answer straight from "dijawab" records both steps and queues the edited answer."""
    case = seed(db, "dijawab", opd_code="dlh", answer_text="Sudah diangkut")
    outcome = act(db, settings, case, "approve", answer="Sampah sudah diangkut pada 3 Desember.", publish="1")
    assert case.status == "selesai" and case.closed_at is not None
    assert case.answer_text == "Sampah sudah diangkut pada 3 Desember." and case.answer_public is True
    assert [h[1] for h in history(db, case)] == ["receive_answer", "approve"]
    [reply] = replies(db, case)
    assert reply.kind == "answer" and "Sampah sudah diangkut pada 3 Desember." in reply.text
    assert (reply.channel, reply.address) == ("sms", PHONE)
    assert outcome.enqueue == {"send_reply": [reply.id]}


def test_approve_after_receiving_needs_the_answer_text(db: Session, settings: Settings) -> None:
    """From "diterima_operator" the answer is required; unticked publish keeps it off public pages."""
    case = seed(db, "dijawab", opd_code="dlh", answer_text="Sudah")
    act(db, settings, case, "receive_answer")
    assert case.status == "diterima_operator"
    with pytest.raises(ActionInvalid) as exc:
        act(db, settings, case, "approve", answer=" ")
    assert exc.value.errors == {"answer": "required"}
    act(db, settings, case, "approve", answer="Sudah ditangani.")
    assert case.status == "selesai" and case.answer_public is False


def test_phone_answer_is_a_note_not_a_reply(db: Session, settings: Settings) -> None:
    """A call-centre complaint answered by phone needs the call note and queues no reply."""
    case = seed(db, "diterima_operator", opd_code="dlh", channel="call_centre", reply_channel="phone")
    with pytest.raises(ActionInvalid) as exc:
        act(db, settings, case, "approve", answer="Sudah diperbaiki.")
    assert exc.value.errors == {"phone_note": "required"}
    outcome = act(db, settings, case, "approve", answer="Sudah diperbaiki.", phone_note="Ditelepon 10.15, diterima")
    assert case.status == "selesai" and outcome.enqueue == {}
    assert replies(db, case) == []
    assert [(n.kind, n.text) for n in notes(db, case)] == [("phone_answer", "Ditelepon 10.15, diterima")]


def test_operator_note_is_internal_and_takes_no_photos(db: Session, settings: Settings) -> None:
    """An operator may note on a case in any status; it is internal and does not move the case."""
    case = seed(db, "selesai", opd_code="dlh")
    with pytest.raises(ActionInvalid) as exc:
        act(db, settings, case, "note", note="foto", uploads=(Upload("a.png", "image/png", png()),))
    assert exc.value.errors == {"photos": "photos_not_allowed"}
    act(db, settings, case, "note", note="Pelapor menelepon lagi")
    assert [(n.kind, n.internal, n.author_role) for n in notes(db, case)] == [("internal", True, "operator")]
    assert case.status == "selesai" and case.version == 1


@pytest.mark.parametrize(
    ("viewer", "status", "action"),
    [(DLH, "dijawab", "approve"), (OPERATOR, "disposisi", "accept"), (ADMIN, "ditindaklanjuti", "answer")],
)
def test_actions_of_another_role_are_forbidden(
    db: Session, settings: Settings, viewer: Viewer, status: str, action: str
) -> None:
    """An OPD user approving or an operator accepting is refused whatever the status."""
    case = seed(db, status, opd_code="dlh")
    with pytest.raises(ActionForbidden):
        act(db, settings, case, action, viewer, answer="x")
    assert case.status == status


def test_wrong_status_and_stale_version_are_refused(db: Session, settings: Settings) -> None:
    """A step the status does not allow is TransitionRefused; a form from an older version is CaseChanged."""
    case = seed(db, "disposisi", opd_code="dlh")
    with pytest.raises(lifecycle.TransitionRefused):
        act(db, settings, case, "answer", DLH, answer="Sudah")
    with pytest.raises(lifecycle.TransitionRefused):
        act(db, settings, case, "note", DLH, note="belum diterima")  # no OPD notes before accepting
    act(db, settings, case, "accept", DLH)
    with pytest.raises(lifecycle.CaseChanged):
        act(db, settings, case, "return_to_operator", DLH, version=1, reason="bukan kami")
    assert case.status == "dianalisa" and case.version == 2


@pytest.mark.parametrize("action", ["", "receive", "recheck", "delete"])
def test_an_action_outside_the_contract_is_a_form_error(db: Session, settings: Settings, action: str) -> None:
    """Table rows the console does not offer (receive, recheck) and made-up names change nothing."""
    case = seed(db, "dikembalikan_ke_pelapor")
    with pytest.raises(ActionInvalid) as exc:
        act(db, settings, case, action)
    assert exc.value.errors == {"action": "action_unknown"}
    assert (case.status, case.version) == ("dikembalikan_ke_pelapor", 1)


def test_control_characters_are_dropped_from_notes(db: Session, settings: Settings) -> None:
    """A NUL or other control character typed or pasted into a note is dropped (PostgreSQL refuses NUL)."""
    case = seed(db, "diverifikasi", opd_code="dlh")
    act(db, settings, case, "note", note="cek\x00 lokasi\x07\nbesok")
    [note] = notes(db, case)
    assert note.text == "cek lokasi\nbesok"
