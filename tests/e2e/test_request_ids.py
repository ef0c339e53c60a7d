"""A full run with JSON logs: one id follows each complaint through the system, and no personal data is logged.

SMS through a real Kannel, the web form, and mail to our SMTP server, replies out through Kannel
and a real SMTP sink; on SQLite + in-process queue and on PostgreSQL + Redis (where the request
ids travel inside the Redis messages).
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import select

from complaints.models import ProcessBeat, Reply
from complaints.monitoring import totals_since
from config.logging import configure_logging
from normalizer.envelope import utcnow
from tests.conftest import base_settings
from tests.support.kannel import KannelHarness, running_kannel
from tests.support.smtp_sink import SmtpSink
from tests.support.system import SystemThread, free_port, running_system

SHORT_CODE = "1708"
TOKEN = "kannel-inbound-secret"
MAILBOX = "lapor@bogorkota.go.id"
# Three citizens, valid Kota Bogor NIKs (districts 01, 03, 05), each on another channel.
SMS_CITIZEN = {"nik": "3271014505900002", "name": "Siti Aminah", "phone": "+6281234567890"}
SMS_ADDRESS = "Jl. Pajajaran No. 5, Bogor Tengah"
WEB_CITIZEN = {
    "nik": "3271031208850004",
    "name": "Budi Santoso Wibowo",
    "phone": "0813-1122-3344",
    "email": "budi.santoso@example.net",
}
WEB_ADDRESS = "Jl. Suryakencana No. 12, Babakan Pasar"
MAIL_CITIZEN = {
    "nik": "3271052302920005",
    "name": "Dewi Lestari Handayani",
    "phone": "0857 2233 4455",
    "email": "dewi.lestari@example.org",
}
MAIL_ADDRESS = "Jl. Merdeka No. 7, Ciwaringin"
# One whose NIK names a district that does not exist (returned to her), one whose SMS is forged (refused).
RETURNED = {"nik": "3271994505900002", "name": "Rina Marlina", "phone": "+6285711112222"}
RETURNED_ADDRESS = "Jl. Sudirman No. 1, Pabaton"
FORGED = {"nik": "3271044505900009", "name": "Joko Susilo", "phone": "+6281399998888"}


def spellings(phone: str) -> set[str]:
    """The ways a phone number could show up: as typed, digits only, national and E.164."""
    digits = re.sub(r"\D", "", phone)
    national = "0" + digits[2:] if digits.startswith("62") else digits
    return {phone, digits, national, "+62" + national[1:], "62" + national[1:]}


CITIZENS = (SMS_CITIZEN, WEB_CITIZEN, MAIL_CITIZEN, RETURNED, FORGED)
PERSONAL_DATA = sorted(
    {c["nik"] for c in CITIZENS}
    | {c["name"] for c in CITIZENS}
    | {WEB_CITIZEN["email"], MAIL_CITIZEN["email"], SMS_ADDRESS, WEB_ADDRESS, MAIL_ADDRESS, RETURNED_ADDRESS}
    | {spelling for c in CITIZENS for spelling in spellings(c["phone"])}
)


@pytest.fixture
def json_log(tmp_path: Path) -> Iterator[Path]:
    """The project's JSON logging (redaction included) written to a file, as an operator would collect it."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("INFO", "json")
    path = tmp_path / "intake.log"
    stream = path.open("w", encoding="utf-8")
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    yield path
    root.handlers[:], level = saved
    root.setLevel(level)
    stream.close()
    structlog.reset_defaults()


@pytest.fixture
def system(
    tmp_path: Path, backend: dict[str, Any], json_log: Path
) -> Iterator[tuple[KannelHarness, SmtpSink, SystemThread, int]]:
    """Kannel, an outbound SMTP sink and the whole gateway (web, workers, SMTP intake)."""
    port, smtp_port = free_port(), free_port()
    get_url = (
        f"http://127.0.0.1:{port}/channels/sms/kannel?token={TOKEN}"
        "&from=%p&to=%P&text=%b&id=%I&ts=%T&smsc=%i&coding=%c&charset=%C"
    )
    with running_kannel(tmp_path / "kannel", get_url) as kannel, SmtpSink() as sink:
        settings = base_settings(
            tmp_path,
            port=port,
            public_base_url=f"http://127.0.0.1:{port}",
            kannel_sendsms_url=kannel.sendsms_url,
            kannel_username=kannel.username,
            kannel_password=kannel.password,
            kannel_from=SHORT_CODE,
            kannel_inbound_token=TOKEN,
            smtp_intake_port=smtp_port,
            smtp_intake_domains="bogorkota.go.id",
            smtp_host=sink.host,
            smtp_port=sink.port,
            smtp_starttls=False,
            mail_from=MAILBOX,
            monitor_interval_seconds=0.2,
            **backend,
        )
        with running_system(settings) as running:
            yield kannel, sink, running, smtp_port


def submit_web_form(base_url: str) -> tuple[str, str]:
    """Post the web form as a browser would; return (the answer's X-Request-Id, the receipt URL)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    # A browser keeps the form's cookie (its CSRF token) for the POST.
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect)
    with browser.open(base_url + "/lapor", timeout=10) as resp:
        page = resp.read().decode()
    hidden = dict(re.findall(r'name="(submission_id|csrf_token)" value="([^"]+)"', page))
    fields = {
        **hidden,
        "lang": "id",
        "nik": WEB_CITIZEN["nik"],
        "nama": WEB_CITIZEN["name"],
        "alamat": WEB_ADDRESS,
        "telp": WEB_CITIZEN["phone"],
        "email": WEB_CITIZEN["email"],
        "isi": "Lampu penerangan jalan mati sepanjang Jl. Suryakencana sejak seminggu",
    }
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    request = urllib.request.Request(
        base_url + "/lapor", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    try:
        browser.open(request, timeout=10)
    except urllib.error.HTTPError as answer:
        assert answer.code == 303, answer.read()[:500]
        return answer.headers["X-Request-Id"], answer.headers["Location"]
    raise AssertionError("the form did not redirect to its receipt")


def send_mail(smtp_port: int) -> None:
    """A citizen's mail to the city's address, delivered to our SMTP server."""
    message = EmailMessage()
    message["From"] = f"{MAIL_CITIZEN['name']} <{MAIL_CITIZEN['email']}>"
    message["To"] = MAILBOX
    message["Subject"] = "Sampah menumpuk"
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content(
        f"NIK: {MAIL_CITIZEN['nik']}\nNama: {MAIL_CITIZEN['name']}\nAlamat: {MAIL_ADDRESS}\n"
        f"Telp: {MAIL_CITIZEN['phone']}\nIsi: Sampah menumpuk di pinggir sungai Ciliwung dekat jembatan.\n"
    )
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
        assert client.send_message(message, to_addrs=[MAILBOX]) == {}


def read_log(path: Path) -> list[dict[str, Any]]:
    """Every JSON line written so far (the log must be nothing but JSON lines)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def path_of(lines: list[str], request_id: str) -> list[str]:
    """The events of the lines `grep <request_id>` finds, in order."""
    return [json.loads(line)["event"] for line in lines if request_id in line]


def test_one_request_id_per_complaint_and_no_personal_data_in_the_logs(
    system: tuple[KannelHarness, SmtpSink, SystemThread, int], json_log: Path
) -> None:
    """grep of a complaint's request id shows its accept, verify, route and reply; the log holds no NIK, phone,
    name, address or e-mail of the citizens."""
    kannel, sink, running, smtp_port = system
    # Given three citizens who complain by SMS, on the web form and by e-mail
    sms = SMS_CITIZEN
    kannel.inject(
        sms["phone"],
        SHORT_CODE,
        f"LAPOR#{sms['nik']}#{sms['name']}#{SMS_ADDRESS}#Jalan berlubang besar di depan Kebun Raya",
    )
    web_request_id, receipt = submit_web_form(running.url)
    send_mail(smtp_port)
    # And one whose identity is false, and a forged SMS request (wrong token)
    kannel.inject(
        RETURNED["phone"],
        SHORT_CODE,
        f"LAPOR#{RETURNED['nik']}#{RETURNED['name']}#{RETURNED_ADDRESS}#lampu jalan mati",
    )
    forged = urllib.parse.urlencode(
        {"token": "wrong", "from": FORGED["phone"], "to": SHORT_CODE, "text": f"LAPOR#{FORGED['nik']}#{FORGED['name']}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{running.url}/channels/sms/kannel?{forged}", timeout=10)
    assert refused.value.code == 401 and refused.value.headers["X-Request-Id"]
    # When every complaint has been answered
    ticket = re.search(r"BGR-[0-9A-Z]{7}", kannel.wait_for_mt(sms["phone"], timeout=30).text).group(0)  # type: ignore[union-attr]
    kannel.wait_for_mt(RETURNED["phone"], timeout=30)
    sink.wait_for(lambda m: MAIL_CITIZEN["email"] in m.rcpt_tos, timeout=30)
    running.wait_for(
        lambda s: len(s.scalars(select(Reply).where(Reply.status.in_(("sent", "delivered")))).all()) >= 4, timeout=30
    )
    beats = running.db(lambda s: [(b.role, b.stopped_at) for b in s.scalars(select(ProcessBeat))])
    assert beats == [("serve", None)]
    # (and the process's monitor stored what it counted: what the health page and `intake queues` read)
    since = utcnow() - timedelta(hours=1)
    inbound = running.wait_for(
        lambda s: (t := totals_since(s, since, "inbound")).get("sms:accepted", 0) >= 2 and t, timeout=10
    )
    assert inbound.get("web:accepted") == 1 and inbound.get("email:accepted") == 1, inbound
    events = read_log(json_log)
    lines = json_log.read_text(encoding="utf-8").splitlines()

    # Then the SMS's request id, from its webhook request, leads through every stage to the reply
    # (a provider's retry of the same request would be a duplicate line of its own)
    (sms_accepted,) = [
        e for e in events if e["event"] == "accepted" and e.get("ticket") == ticket and not e["duplicate"]
    ]
    sms_path = path_of(lines, sms_accepted["request_id"])
    assert sms_path[0] == "accepted"
    assert {"verified", "routed", "reply_sent"} <= set(sms_path), sms_path
    # And the web form answered its request id, which the complaint carries to its reply
    (web_accepted,) = [e for e in events if e["event"] == "accepted" and e.get("provider") == "web"]
    assert web_accepted["request_id"] == web_request_id and receipt.startswith("/lapor/terima/")
    assert {"accepted", "verified", "routed", "reply_sent"} <= set(path_of(lines, web_request_id))
    # And mail (no HTTP request) is followed by its inbox id
    (mail_accepted,) = [e for e in events if e["event"] == "smtp_accepted"]
    mail_path = set(path_of(lines, mail_accepted["inbox"]))
    assert {"smtp_accepted", "accepted", "verified", "routed", "reply_sent"} <= mail_path, mail_path
    # And the forged request's refusal is logged under the id it was answered with
    assert path_of(lines, refused.value.headers["X-Request-Id"]) == ["webhook_rejected"]
    assert "identity_incomplete" in [e["event"] for e in events]
    # And the paths are apart: no line of one complaint carries another's id
    assert web_request_id not in " ".join(line for line in lines if sms_accepted["request_id"] in line)

    # And nothing about who the citizens are was written to the log
    text = json_log.read_text(encoding="utf-8")
    leaked = [value for value in PERSONAL_DATA if value in text]
    assert leaked == [], f"personal data in the log: {leaked}"
