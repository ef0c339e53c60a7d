"""Guided conversations on any chat channel: /lapor asks for the complaint and each missing identity field.

Every message of a private chat is one turn (``kind="conversation"``). An adapter makes its
channel conversational by marking its intakes so and filling the typed :class:`ChatTurn`
(content, message id, edit flag, a contact the channel vouches for) and ``attachments_to_fetch``
(photos still held by the provider); nothing here names a channel. Replies are worded by
``render_reply`` for the reply route's channel, so a channel may have its own wording in
``config/replies/*.yaml`` without code. Telegram is such a channel today.

The state between turns lives in the
``conversations`` row ``<channel>:<chat id>`` (locked for the turn); what the citizen still has
to give is worked out from it each time, in the SOP's order: the complaint, NIK, nama, alamat,
no. telp, then the optional e-mail. Each answer is checked with ``normalizer.identity`` and, if
wrong, asked again with the reason. Once nothing is missing the case is opened and checked like
any other complaint (SOP step 3), so the usual acknowledgement with the ticket goes out.

Each turn queues at most one chat reply (dedupe key ``<inbox id>:chat``), so a re-run turn
sends nothing twice. Personal data is never logged and never repeated back: a confirmation
says "NIK diterima", not the number.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog

from complaints import lifecycle, sla, store
from complaints.models import Conversation
from complaints.replies import field_labels, render_reply
from normalizer.confidential import Protection, read_keywords
from normalizer.envelope import ChatTurn, ComplaintEnvelope, Identity, RemoteFile, utcnow
from normalizer.identity import merge_identity, parse_identity_parts, parse_identity_text, read_identity
from normalizer.tickets import new_ticket, normalize_ticket, parse_status_query
from workers import completion, followup
from workers.batch import FollowUps
from workers.casework import check_case
from workers.chat_input import COMMANDS, IDENTITY_FIELDS, check_answer, has_identity_fields
from workers.status import answer_status_query

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from complaints.models import InboxMessage
    from workers.runtime import Runtime

log = structlog.get_logger(__name__)

REQUIRED_FIELDS = ("nik", "name", "address", "phone")
# An abandoned /lapor is forgotten after a day: it holds personal data nobody will finish.
CONVERSATION_TTL = timedelta(hours=24)
# A message outside /lapor with fewer words is a greeting ("halo"), answered with the welcome.
MIN_COMPLAINT_WORDS = 3


def handle_turn(runtime: Runtime, session: Session, inbox: InboxMessage, envelope: ComplaintEnvelope) -> FollowUps:
    """Process one message of a guided conversation; return the follow-up work ``{actor: [ids]}``."""
    conv_id = f"{envelope.channel}:{envelope.sender}"
    now = utcnow()
    # Row lock (PostgreSQL): two turns of one chat must not both read the same old state.
    conv = session.get(Conversation, conv_id, with_for_update=True)
    if conv is None:
        conv = Conversation(id=conv_id, channel=envelope.channel, state={}, updated_at=now)
        session.add(conv)
    state: dict[str, Any] = copy.deepcopy(conv.state or {})
    if state.get("flow") and conv.updated_at < now - CONVERSATION_TTL:
        state = {"lang": state.get("lang")}
        log.info("conversation_expired", inbox=inbox.id)
    turn = _Turn(runtime, session, inbox, envelope, state)
    follow_ups = turn.run()
    conv.state = turn.state  # a new dict, so the JSON column is written
    conv.updated_at = now
    return follow_ups


class _Turn:
    """One message and what it does to the conversation state."""

    def __init__(
        self,
        runtime: Runtime,
        session: Session,
        inbox: InboxMessage,
        envelope: ComplaintEnvelope,
        state: dict[str, Any],
    ) -> None:
        self.runtime, self.session, self.inbox, self.envelope = runtime, session, inbox, envelope
        self.state = state
        self.lang = "en" if (state.get("lang") or envelope.language) == "en" else "id"
        self.state["lang"] = self.lang
        self.turn = envelope.turn or ChatTurn()
        self.message_id = self.turn.message_id or envelope.reply_route.thread_ref or ""
        # Replies are worded for the channel they go out on (its own variant when it has one).
        self.channel = envelope.reply_route.channel
        self.parts: list[str] = []
        self.received: list[str] = []
        self.problems: list[tuple[str, str]] = []

    # -- dispatch --------------------------------------------------------------------------
    def run(self) -> FollowUps:
        turn, content = self.turn, self.turn.content
        text = self.envelope.text.strip()
        if turn.edited:
            return self._edit(text)
        if content == "command":
            return self._command(turn.command or "", turn.args)
        if content == "other":
            self._say("chat_unsupported")
            return self._continue() if self._in_flow() else self._reply()
        if content == "text":
            return self._text(text)
        # Photo, location or the citizen's own contact: always part of a report, started if need be.
        self._start_flow_if_needed()
        if content == "photo":
            self._add_photo(text)
        elif content == "location" and self.envelope.location is not None:
            self.state["location"] = list(self.envelope.location)
            self._say("chat_location_received")
        elif content == "contact":
            self._take("phone", turn.contact_phone or "")
        return self._continue()

    def _command(self, command: str, arg: str) -> FollowUps:
        action = COMMANDS.get(command)
        arg = arg.strip()
        if action == "status":
            return self._status(arg) if arg else self._say_and_reply("chat_cek_usage")
        if action == "report":
            if self.state.get("text") or self.state.get("identity"):
                self._say("chat_restarted")
                self._reset(flow=True)
            self._start_flow_if_needed()  # photos or a location sent before /lapor are kept
            if arg:
                self._answer(arg)
            return self._continue()
        if action == "cancel":
            if not self._in_flow():
                return self._say_and_reply("chat_nothing_to_cancel")
            self._reset(flow=False)
            log.info("conversation_cancelled", inbox=self.inbox.id)
            return self._say_and_reply("chat_cancelled")
        if action in ("english", "indonesian"):
            self.lang = self.state["lang"] = "en" if action == "english" else "id"
            self._say("chat_language")
        elif action == "help":
            self._say("chat_welcome")
        else:
            self._say("chat_help")
        return self._continue() if self._in_flow() else self._reply()

    def _text(self, text: str) -> FollowUps:
        protection = read_keywords(text)
        if protection.rahasia or protection.anonim:
            return self._protect(protection)
        query = parse_status_query(text)
        # "CEK <ticket>" as typed on SMS; inside a report only with a real ticket, so an answer
        # such as "cek lampu" is still an answer.
        if query is not None and (not self._in_flow() or normalize_ticket(query)):
            return self._status(query) if query else self._say_and_reply("chat_cek_usage")
        if not self._in_flow():
            completed = self._complete_returned_case(text)
            if completed is not None:
                return completed
            identity, _ = parse_identity_text(text)
            if not has_identity_fields(identity) and len(text.split()) < MIN_COMPLAINT_WORDS:
                return self._say_and_reply("chat_welcome")
            self._reset(flow=True)
        self._answer(text)
        return self._continue()

    def _protect(self, protection: Protection) -> FollowUps:
        """``RAHASIA`` / ``ANONIM`` leading a chat message (issue 14): a report starts (or goes on)
        with that protection kept for its case; the rest of the message is read as an answer."""
        self._start_flow_if_needed()
        for flag in ("rahasia", "anonim"):
            if getattr(protection, flag):
                self.state[flag] = True
        if protection.text.strip():
            self._answer(protection.text.strip())
        return self._continue()

    def _edit(self, text: str) -> FollowUps:
        """An edited message changes the answer it gave, while the report is being written."""
        field = self.state.get("answers", {}).get(self.message_id)
        if not self._in_flow() or field is None:
            log.info("conversation_edit_ignored", inbox=self.inbox.id)
            return {}
        if field == "*":
            self._take_labelled(text)
        elif not self._take(field, text) and field in REQUIRED_FIELDS:
            # The citizen withdrew the old value; a wrong new one leaves it to be asked again.
            self.state.get("identity", {}).pop(field, None)
        self.parts.extend(self._drain_confirmations(updated=True))
        return self._continue()

    def _complete_returned_case(self, text: str) -> FollowUps | None:
        """Issue 13: identity fields sent outside a report complete this chat's returned case, if any.

        Returns None when the message names no identity field or no case of this chat was
        returned within COMPLETE_REPLY_WINDOW_DAYS; the message is then a conversation turn.
        """
        labelled, unlabelled, body, sources, complaint_label = parse_identity_parts(text)
        identity = merge_identity(labelled, unlabelled)
        if not has_identity_fields(identity) or complaint_label:
            return None  # no fields, or a whole new complaint ("Isi: ...")
        reply = dataclasses.replace(
            self.envelope,
            kind="complaint",
            identity=identity,
            identity_sources=sources,
            text_label=None,
            text="" if _only_value(text) else body.strip(),  # a bare NIK adds nothing to the complaint
            turn=None,
        )
        case = completion.returned_case_of_sender(self.session, reply, self.runtime.settings.complete_reply_window_days)
        if case is None:
            return None
        log.info("conversation_completes_case", inbox=self.inbox.id, ticket=case.ticket)
        return followup.add_to_case(self.runtime, self.session, case, self.inbox, reply)

    # -- state -----------------------------------------------------------------------------
    def _in_flow(self) -> bool:
        return bool(self.state.get("flow"))

    def _reset(self, *, flow: bool) -> None:
        self.state = {"lang": self.lang}
        if flow:
            self.state.update({"flow": "report", "identity": {}, "answers": {}, "photos": []})

    def _start_flow_if_needed(self) -> None:
        if not self._in_flow():
            self._reset(flow=True)

    def _missing(self) -> str | None:
        """The next thing to ask for, or None when the report is complete."""
        if not self.state.get("text"):
            return "text"
        identity = self.state.get("identity", {})
        for field in REQUIRED_FIELDS:
            if not identity.get(field):
                return field
        return None if self.state.get("email_done") else "email"

    def _answer(self, text: str) -> None:
        """A text message inside a report: labelled fields, or the answer to the open question."""
        identity, _ = parse_identity_text(text)
        if has_identity_fields(identity):
            self._take_labelled(text)
        else:
            self._take(self._missing() or "text", text)

    def _take_labelled(self, text: str) -> None:
        identity, body = parse_identity_text(text)
        given = [field for field in IDENTITY_FIELDS if getattr(identity, field)]
        # part-parserfix: an unlabelled value stays in the parsed complaint text; a message that
        # is nothing but that value (a bare NIK) is still only the answer, not the complaint.
        if len(given) == 1 and body.strip() == text.strip() and _only_value(text):
            body = ""
        # part-parser: a message that is only one value (a bare NIK, now read as one) answers
        # that field, so an edit of it is checked as that field's answer again.
        marker = given[0] if len(given) == 1 and not body.strip() else "*"
        for field in given:
            self._take(field, getattr(identity, field), marker=marker)
        if body.strip() and not self.state.get("text"):
            self._take("text", body, marker="*")

    def _take(self, field: str, value: str, *, marker: str | None = None) -> bool:
        """Check one answer; store it (cleaned) or note the problem."""
        clean, problem = check_answer(field, value, regions=self.runtime.config.regions)
        if problem is not None:
            if field != "text":
                self.problems.append((field, problem))
            return False
        if field == "text":
            self.state["text"] = clean
            self.state["text_ref"] = self.envelope.reply_route.thread_ref
        else:
            self.state.setdefault("identity", {})[field] = clean or None
            if field == "email":
                self.state["email_done"] = True
        self.state.setdefault("answers", {})[self.message_id] = marker or field
        self.received.append(field)
        return True

    def _add_photo(self, caption: str) -> None:
        # The provider keeps the file; the state keeps its reference until the case is opened.
        photos = self.state.setdefault("photos", [])
        photos.extend(dataclasses.asdict(f) for f in self.envelope.attachments_to_fetch)
        self._say("chat_photo_received")
        if caption:
            identity, _ = parse_identity_text(caption)
            if has_identity_fields(identity):
                self._take_labelled(caption)
            elif not self.state.get("text"):
                self._take("text", caption)

    # -- replies ---------------------------------------------------------------------------
    def _render(self, key: str, *, fields: str | None = None) -> str:
        """The chat template ``key`` in the conversation's language, worded for this channel."""
        if fields is None:
            return render_reply(self.runtime.config.replies, key, self.lang, channel=self.channel)
        return render_reply(self.runtime.config.replies, key, self.lang, channel=self.channel, fields=fields)

    def _say(self, key: str) -> None:
        self.parts.append(self._render(key))

    def _say_and_reply(self, key: str) -> FollowUps:
        self._say(key)
        return self._reply()

    def _drain_confirmations(self, *, updated: bool = False) -> list[str]:
        """ "NIK diterima." / "Maaf, ..." for what this turn gave; never the values themselves."""
        lines = []
        if "text" in self.received:
            lines.append(self._render("chat_text_updated" if updated else "chat_text_received"))
        names = self.runtime.config.replies.of(self.lang).fields
        labels = [names.get(f, f) for f in dict.fromkeys(self.received) if f != "text"]
        if labels:
            lines.append(self._render("chat_updated" if updated else "chat_received", fields=", ".join(labels)))
        if self.problems:
            lines.append(
                self._render("chat_invalid", fields=field_labels(self.runtime.config.replies, self.problems, self.lang))
            )
        self.received, self.problems = [], []
        return lines

    def _continue(self) -> FollowUps:
        """Confirm what this turn gave, then ask the next question or open the case."""
        self.parts.extend(self._drain_confirmations())
        missing = self._missing()
        if missing is None:
            return self._open_case()
        self._say(f"chat_ask_{missing}")
        log.info("conversation_asks", inbox=self.inbox.id, asks=missing)
        return self._reply()

    def _reply(self) -> FollowUps:
        route = self.envelope.reply_route
        reply_id = store.queue_reply(
            self.session,
            dedupe_key=f"{self.inbox.id}:chat",
            kind="chat",
            channel=route.channel,
            provider=route.provider,
            address=route.address,
            thread_ref=route.thread_ref,
            inbox_id=self.inbox.id,
            text="\n".join(self.parts),
        )
        return {"send_reply": [reply_id]} if reply_id else {}

    def _status(self, query: str) -> FollowUps:
        envelope = dataclasses.replace(self.envelope, kind="status_query", query_ticket=query, language=self.lang)
        return answer_status_query(self.runtime, self.session, self.inbox, envelope)

    # -- the case --------------------------------------------------------------------------
    def _open_case(self) -> FollowUps:
        """Everything is there: open the case on this turn's inbox row and check it (SOP step 3)."""
        state, envelope = self.state, self.envelope
        identity = Identity(**{f: state.get("identity", {}).get(f) or None for f in IDENTITY_FIELDS})
        location = state.get("location")
        files = tuple(f for p in state.get("photos") or [] if (f := _remote_file(p, envelope.provider)))
        photos = [dataclasses.asdict(f) for f in files]
        # Tickets are handed out at accept time only for kind "complaint"; a conversation
        # turn becomes one here (inbox.ticket is unique: a collision fails the savepoint and
        # the turn is retried with a new number).
        self.inbox.ticket = new_ticket()
        complaint_envelope = dataclasses.replace(
            envelope,
            kind="complaint",
            # Answers quote the complaint itself, not the last "-" of the conversation.
            reply_route=dataclasses.replace(
                envelope.reply_route, thread_ref=state.get("text_ref") or envelope.reply_route.thread_ref
            ),
            identity=identity,
            # Each field answered a question of the report (or was labelled in a message of it).
            identity_sources={f: "chat" for f in IDENTITY_FIELDS if getattr(identity, f)},
            text=state["text"],
            location=(location[0], location[1]) if location else None,
            language=self.lang,
            turn=None,
            attachments_to_fetch=files,
            rahasia=bool(state.get("rahasia")),
            anonim=bool(state.get("anonim")),
        )
        complaint = lifecycle.open_case(
            self.session,
            self.inbox,
            complaint_envelope,
            sop=self.runtime.config.sop,
            calendar=sla.calendar_of(self.runtime.config.calendar),
        )
        if photos or location:
            # The provider keeps the files (a Telegram file_id stays valid for this bot, to be
            # fetched with getFile). The case has no location columns yet, so the point is kept here too.
            extra: dict[str, Any] = {"to_fetch": photos}
            if location:
                extra["location"] = {"latitude": location[0], "longitude": location[1]}
            complaint.attachments = {"files": [], **(complaint.attachments or {}), **extra}
        self.state = {"lang": self.lang}
        log.info(
            "conversation_complete",
            inbox=self.inbox.id,
            ticket=complaint.ticket,
            photos=len(photos),
            location=bool(location),
        )
        if not lifecycle.can(complaint, "verify", "system"):
            return {}
        return check_case(self.runtime, self.session, complaint, actor="worker:conversation")


def _remote_file(data: Mapping[str, Any], provider: str) -> RemoteFile | None:
    """A photo reference kept in the conversation state; None for one that names no file.

    Conversations begun before envelope version 2 kept Telegram's own PhotoSize dict
    (``file_id``...); they are read too, for the day such a conversation may still be open.
    """
    if data.get("ref"):
        return RemoteFile(
            str(data.get("provider") or provider), str(data["ref"]), data.get("content_type"), data.get("size")
        )
    if data.get("file_id"):
        return RemoteFile(provider, data["file_id"], data.get("mime_type") or "image/jpeg", data.get("file_size"))
    return None


def _only_value(text: str) -> bool:
    """True when the whole message is one identity value ("3271 0145 0890 0003")."""
    fields = list(read_identity(text).fields.values())
    return len(fields) == 1 and not (text[: fields[0].start] + text[fields[0].end :]).strip(" \t\r\n,;.")
