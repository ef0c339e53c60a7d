"""The chaos run's citizens (scripts/chaos.py): one sender each, on four channels, at a steady pace.

SMS go in through Kannel's fake SMSC, mails are appended to the Dovecot mailbox, Telegram updates
are served by the fake Bot API, and web-form posts are made as a browser makes them (the page's
cookie and CSRF token, the same form re-posted after a failure, as a citizen presses "send" again).
Acknowledgements are counted where a citizen would see them: the fake SMSC, the SMTP sink, the fake
Bot API's sent messages.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from http.cookiejar import CookieJar
from typing import Any

NIK = "3271014505900002"  # a valid Kota Bogor NIK (district 32.71.01)
SYLLABLES = ("ba", "di", "ka", "lu", "me", "ni", "po", "ra", "su", "ti")
TICKET = re.compile(r"BGR-[2-9A-HJ-NP-Z]{7}")
CHANNELS = ("sms", "sms", "sms", "web", "web", "email", "email", "telegram")


@dataclass
class Sender:
    """One citizen and the one complaint they send."""

    index: int
    channel: str
    due: float = 0.0
    sent: bool = False
    attempts: int = 0

    @property
    def key(self) -> str:
        """How this citizen is found among the stored complaints' reply addresses."""
        if self.channel == "sms":
            return f"62812{self.index:07d}"
        if self.channel == "telegram":
            return str(500000000 + self.index)
        return f"warga{self.index}@{self.channel}.example.org"

    @property
    def keys(self) -> tuple[str, ...]:
        """Every address a reply may go to: a web-form citizen gives a phone and an e-mail address."""
        return (self.key, self.phone) if self.channel == "web" else (self.key,)

    @property
    def phone(self) -> str:
        """The web-form citizen's phone (the form requires one), digits only."""
        return f"62813{self.index:07d}"

    @property
    def name(self) -> str:
        """A name without digits (a name with digits is refused): the index spelt in syllables."""
        return "Warga " + "".join(SYLLABLES[int(d)] for d in str(self.index)).capitalize()

    def text(self) -> str:
        return f"Jalan berlubang besar di depan rumah nomor {self.index}, mohon diperbaiki"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


class Load:
    """``n`` senders spread over the channels; :meth:`run` sends them over a window with the faults."""

    def __init__(self, n: int, base_url: str, kannel: Any, mailbox: Any, sink: Any, telegram: Any) -> None:
        self.senders = [Sender(i, CHANNELS[i % len(CHANNELS)]) for i in range(n)]
        self.base_url, self.kannel, self.mailbox, self.sink, self.telegram = base_url, kannel, mailbox, sink, telegram
        self.failures: list[str] = []
        self._update_ids = itertools.count(1000)
        self._updates_lock = threading.Lock()
        self.done = threading.Event()
        """Set when the run is over: the chat citizens stop answering."""
        threading.Thread(target=self._answer_questions, args=(self.done,), daemon=True).start()

    # -- one complaint per channel -----------------------------------------------------
    def send_sms(self, s: Sender) -> None:
        body = f"LAPOR#{NIK}#{s.name}#Jl. Pajajaran No. {s.index}, Bogor Tengah#{s.text()}"
        self.kannel.inject(f"+{s.key}", "1708", body)

    def send_email(self, s: Sender) -> None:
        message = EmailMessage()
        message["From"] = f"{s.name} <{s.key}>"
        message["To"] = "lapor@bogorkota.go.id"
        message["Subject"] = f"Pengaduan jalan rusak {s.index}"
        message["Message-ID"] = make_msgid(domain="email.example.org")
        message.set_content(
            f"NIK: {NIK}\nNama: {s.name}\nAlamat: Jl. Merdeka No. {s.index}, Ciwaringin\n"
            f"Telp: 0815{s.index:07d}\n\n{s.text()}\n"
        )
        self.mailbox.deliver(message.as_bytes())

    def send_telegram(self, s: Sender) -> None:
        """A chat starts with the complaint; the bot then asks for each identity field in turn."""
        self._chat(int(s.key), s.text())

    def _chat(self, chat: int, text: str) -> None:
        with self._updates_lock:  # the fake serves updates above the confirmed offset: ids only grow
            update_id = next(self._update_ids)
            user = {"id": chat, "is_bot": False, "first_name": "Warga", "language_code": "id"}
            message = {"message_id": update_id, "from": user, "chat": {"id": chat, "type": "private"}, "text": text}
            self.telegram.push({"update_id": update_id, "message": {**message, "date": int(time.time())}})

    def _answer_questions(self, until: threading.Event) -> None:
        """Each chat citizen answers every question of the bot once, with what it asks for."""
        answered: set[int] = set()
        while not until.is_set():
            for sent in list(self.telegram.fake.messages):
                if sent.message_id in answered or TICKET.search(sent.text):
                    continue
                answered.add(sent.message_id)
                s = Sender(int(sent.chat_id) - 500000000, "telegram")
                answer = _answer(s, sent.text)
                if answer is not None:
                    self._chat(int(s.key), answer)
            until.wait(0.3)

    def send_web(self, s: Sender, give_up_at: float) -> None:
        """Load the form, post it; on a failure post the same form again, as a citizen would."""
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect)
        hidden: dict[str, str] = {}
        while time.monotonic() < give_up_at:
            s.attempts += 1
            try:
                if not hidden:
                    with browser.open(self.base_url + "/lapor", timeout=10) as resp:
                        page = resp.read().decode()
                    hidden = dict(re.findall(r'name="(submission_id|csrf_token)" value="([^"]+)"', page))
                status = _post_form(browser, self.base_url + "/lapor", {**hidden, **self._web_fields(s)})
            except (OSError, urllib.error.URLError) as exc:
                status = getattr(exc, "code", 0)
            if status == 303:
                return
            if status == 422:
                raise RuntimeError("web form refused the complaint's fields (422)")
            if status in (400, 403):
                # The token was refused: load the page again for a fresh one, keep the submission id.
                self._reload_token(browser, hidden)
            time.sleep(1.0)
        raise RuntimeError("web form: no answer until the end of the run")

    def _reload_token(self, browser: Any, hidden: dict[str, str]) -> None:
        try:
            with browser.open(self.base_url + "/lapor", timeout=10) as resp:
                page = resp.read().decode()
        except OSError:
            hidden.clear()
            return
        fresh = dict(re.findall(r'name="(submission_id|csrf_token)" value="([^"]+)"', page))
        hidden["csrf_token"] = fresh.get("csrf_token", "")
        hidden.setdefault("submission_id", fresh.get("submission_id", ""))

    def _web_fields(self, s: Sender) -> dict[str, str]:
        return {
            "lang": "id",
            "nik": NIK,
            "nama": s.name,
            "alamat": f"Jl. Suryakencana No. {s.index}, Babakan Pasar",
            "telp": f"+{s.phone}",
            "email": s.key,
            "isi": s.text(),
        }

    # -- the run -----------------------------------------------------------------------
    def run(self, window: float, faults: Sequence[tuple[float, Callable[[], None]]]) -> None:
        """Send every complaint at its moment of ``window`` seconds, the faults at theirs."""
        start = time.monotonic()
        for i, s in enumerate(self.senders):
            s.due = start + window * i / max(1, len(self.senders))
        give_up_at = start + window + 180
        threads = [threading.Thread(target=self._faults, args=(start, window, faults), daemon=True)]
        lanes = {"sms": 1, "web": 6, "email": 1, "telegram": 1}
        for channel, count in lanes.items():
            mine = [s for s in self.senders if s.channel == channel]
            for lane in range(count):
                threads.append(threading.Thread(target=self._lane, args=(mine[lane::count], give_up_at), daemon=True))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.failures:
            print(f"chaos: {len(self.failures)} complaints could not be sent, e.g. {self.failures[:3]}", flush=True)

    def _faults(self, start: float, window: float, faults: Sequence[tuple[float, Callable[[], None]]]) -> None:
        for at, fault in faults:
            time.sleep(max(0.0, start + window * at - time.monotonic()))
            began = time.monotonic() - start
            print(f"chaos: {began:6.1f} s  {fault.__name__}", flush=True)
            try:
                fault()
            except Exception as exc:  # noqa: BLE001 - report and go on with the next fault
                self.failures.append(f"fault {fault.__name__}: {type(exc).__name__}: {exc}")

    def _lane(self, senders: list[Sender], give_up_at: float) -> None:
        for s in senders:
            time.sleep(max(0.0, s.due - time.monotonic()))
            try:
                if s.channel == "web":
                    self.send_web(s, give_up_at)
                else:
                    getattr(self, f"send_{s.channel}")(s)
                s.sent = True
            except Exception as exc:  # noqa: BLE001 - a sender that could not send is reported, not counted
                self.failures.append(f"{s.channel} {s.index}: {type(exc).__name__}: {exc}"[:300])

    def acknowledgements(self) -> Counter[str]:
        """Messages received per sender key: SMS at the fake SMSC, mail at the sink, Telegram sends."""
        acks: Counter[str] = Counter()
        for sms in self.kannel.received():
            acks[re.sub(r"\D", "", sms.receiver)] += 1
        for mail in list(self.sink.messages):
            for rcpt in mail.rcpt_tos:
                acks[rcpt.lower()] += 1
        for sent in list(self.telegram.fake.messages):
            # The bot's question is part of the conversation; the acknowledgement carries the ticket.
            acks[str(sent.chat_id)] += 1 if TICKET.search(sent.text) else 0
        return acks


def _post_form(browser: Any, url: str, fields: dict[str, str]) -> int:
    boundary = uuid.uuid4().hex
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    body += f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    try:
        with browser.open(request, timeout=15) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as answer:
        return int(answer.code)


def _answer(s: Sender, question: str) -> str | None:
    """What a citizen answers to the bot's question (config/replies: chat_ask_*), None to none."""
    answers = (
        ("Mohon kirim NIK", NIK),
        ("Mohon kirim nama", s.name),
        ("Mohon kirim alamat", f"Jl. Sudirman No. {s.index}, Pabaton"),
        ("Mohon kirim nomor telepon", f"0814{s.index:07d}"),
        ("alamat e-mail Anda", "-"),
    )
    return next((answer for asked, answer in answers if asked in question), None)
