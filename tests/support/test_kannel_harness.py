"""Self-test of the real-Kannel harness in tests/support/kannel.py."""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import kannel as kannel_mod
from tests.support.kannel import (
    INSTALL_COMMAND,
    MO_SMSC_ID,
    MT_SMSC_ID,
    KannelError,
    KannelHarness,
    kannel_binaries_or_fail,
    parse_mo_query,
    running_kannel,
)

SHORTCODE = "1708"
GET_URL_QUERY = "token={token}&from=%p&to=%P&text=%b&id=%I&ts=%T&smsc=%i&coding=%c&charset=%C"


class StubServer:
    """Records every GET it receives; answers 500 for MO texts containing FAIL500, else 200 empty."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.cond = threading.Condition()
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                path, _, raw = self.path.partition("?")
                fields = parse_mo_query(raw)
                code = 500 if "FAIL500" in str(fields.get("text", "")) else 200
                with stub.cond:
                    stub.requests.append({"path": path, "raw": raw, "q": fields, "at": time.time()})
                    stub.cond.notify_all()
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        """Absolute URL on the stub."""
        return f"http://127.0.0.1:{self.port}{path}"

    def matching(self, pred: Callable[[dict], bool]) -> list[dict]:
        """Requests recorded so far that satisfy pred."""
        with self.cond:
            return [r for r in self.requests if pred(r)]

    def wait_for(self, pred: Callable[[dict], bool], count: int = 1, timeout: float = 10.0) -> list[dict]:
        """Block until at least count recorded requests satisfy pred."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                hits = [r for r in self.requests if pred(r)]
                if len(hits) >= count:
                    return hits
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"stub got {len(hits)}/{count} matching requests: {self.requests!r}")
                self.cond.wait(left)

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def mo_from(sender: str) -> Callable[[dict], bool]:
    """Predicate: an MO webhook call from sender."""
    return lambda r: r["path"] == "/channels/sms/kannel" and r["q"].get("from") == sender


@pytest.fixture(scope="module")
def stub() -> Iterator[StubServer]:
    """Module-wide stub webhook server."""
    s = StubServer()
    yield s
    s.close()


@pytest.fixture(scope="module")
def kannel(stub: StubServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KannelHarness]:
    """Module-wide real Kannel pointed at the stub."""
    get_url = stub.url("/channels/sms/kannel?" + GET_URL_QUERY.format(token="tok123"))
    with running_kannel(tmp_path_factory.mktemp("kannel"), get_url) as k:
        yield k


def test_missing_binaries_message_names_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Missing binaries raise KannelError carrying the apt-get command (never a skip)."""
    monkeypatch.setattr(kannel_mod.os.path, "isfile", lambda p: False)
    with pytest.raises(KannelError) as exc:
        kannel_binaries_or_fail()
    assert INSTALL_COMMAND in str(exc.value)
    assert INSTALL_COMMAND == "apt-get install -y kannel kannel-extras"


def test_mo_reaches_get_url_verbatim(kannel: KannelHarness, stub: StubServer) -> None:
    """An injected MO reaches the get-url with from/to/text verbatim and the documented metadata."""
    text = "LAPOR#3271011505900001#Budi#Jl Pajajaran 1#jalan rusak"
    before = time.time()
    kannel.inject("+6281234567890", SHORTCODE, text)
    (req,) = stub.wait_for(mo_from("+6281234567890"))
    q = req["q"]
    assert q["token"] == "tok123"
    assert q["from"] == "+6281234567890" and q["to"] == SHORTCODE
    assert q["text"] == text
    assert "from=%2B6281234567890" in req["raw"] and "%23" in req["raw"] and "+Pajajaran+" in req["raw"]
    assert q["coding"] == "0" and q["charset"] == "UTF-8"
    assert q["smsc"] == MO_SMSC_ID
    assert len(str(q["id"])) == 36  # a UUID, never empty for fake-SMSC MOs
    assert abs(int(str(q["ts"])) - before) < 30


def test_empty_200_answer_sends_no_sms(kannel: KannelHarness, stub: StubServer) -> None:
    """Answering the get-url with 200 and an empty body makes smsbox send no SMS of its own."""
    kannel.inject("+6281100000001", SHORTCODE, "halo apakah ada balasan otomatis")
    stub.wait_for(mo_from("+6281100000001"))
    kannel.assert_no_mt(within=2.0, to="+6281100000001")


def test_sendsms_reply_reaches_fake_smsc(kannel: KannelHarness) -> None:
    """A sendsms call is delivered to the fake SMSC with the right receiver, sender and text."""
    status, body = kannel.sendsms("+6281234567890", "Laporan #123 diterima. Terima kasih!", coding=0)
    assert (status, body) == (202, "0: Accepted for delivery")
    sms = kannel.wait_for_mt("+6281234567890", timeout=10)
    assert (sms.sender, sms.receiver, sms.text, sms.kind) == (
        SHORTCODE,
        "+6281234567890",
        "Laporan #123 diterima. Terima kasih!",
        "text",
    )


def test_sendsms_bad_credentials_rejected(kannel: KannelHarness) -> None:
    """Wrong sendsms credentials get 403."""
    kannel_bad = KannelHarness(kannel.sendsms_url, kannel.username, "wrong")
    assert kannel_bad.sendsms("+62811", "x") == (403, "Authorization failed for sendsms")


def test_mt_text_with_newline_and_utf8(kannel: KannelHarness) -> None:
    """A coding-0 MT with a newline and non-ASCII letters is re-joined and decoded."""
    assert kannel.sendsms("+6281100000002", "Baris satu é\nbaris dua")[0] == 202
    assert kannel.wait_for_mt("+6281100000002").text == "Baris satu é\nbaris dua"


def test_ucs2_mo_arrives_decodable(kannel: KannelHarness, stub: StubServer) -> None:
    """A UCS-2 MO arrives as coding=2 charset=UTF-16BE with %b = URL-encoded UTF-16BE bytes."""
    text = "Jalan rusak — parah 😡 شكرا"
    kannel.inject("+6281100000003", SHORTCODE, text, coding="ucs2")
    (req,) = stub.wait_for(mo_from("+6281100000003"))
    q = req["q"]
    assert (q["coding"], q["charset"]) == ("2", "UTF-16BE")
    assert q["text_bytes"] == text.encode("utf-16-be")
    assert q["text"] == text
    assert "text=%00J%00a%00l%00a%00n%00+" in req["raw"]


def test_8bit_mo_metadata(kannel: KannelHarness, stub: StubServer) -> None:
    """An 8-bit ('data') MO arrives as coding=1 charset=8-BIT with the raw bytes."""
    kannel.inject("+6281100000004", SHORTCODE, "café", coding="data")
    (req,) = stub.wait_for(mo_from("+6281100000004"))
    assert (req["q"]["coding"], req["q"]["charset"]) == ("1", "8-BIT")
    assert req["q"]["text_bytes"] == "café".encode()


def test_ucs2_and_long_mt(kannel: KannelHarness) -> None:
    """UCS-2 MTs and concatenated (multi-part) MTs are captured and reassembled."""
    uni = "Jalan rusak — parah 😡 شكرا"
    long_text = "Laporan Anda sedang diproses. " * 12
    assert kannel.sendsms("+6281100000005", uni, coding=2)[0] == 202
    assert kannel.sendsms("+6281100000006", long_text, coding=0)[0] == 202
    assert kannel.sendsms("+6281100000007", "ا" * 100, coding=2)[0] == 202
    sms = kannel.wait_for_mt("+6281100000005")
    assert (sms.kind, sms.text) == ("ucs-2", uni)
    sms = kannel.wait_for_mt("+6281100000006")
    assert (sms.kind, sms.text, sms.parts) == ("udh", long_text, 3)
    sms = kannel.wait_for_mt("+6281100000007")
    assert (sms.text, sms.parts) == ("ا" * 100, 2)


def test_dlr_callbacks_from_fake_smsc(kannel: KannelHarness, stub: StubServer) -> None:
    """With dlr-mask=31 the fake SMSC yields DLR type 8 (SMSC ack) then type 1 (delivered)."""
    dlr_url = stub.url("/dlr?msg=out-42&type=%d&to=%p&from=%P&smsc=%i&id=%I&ts=%T&answer=%A")
    status, _ = kannel.sendsms("+6281100000008", "DLR test", dlr_url=dlr_url, dlr_mask=31)
    assert status == 202
    kannel.wait_for_mt("+6281100000008")
    hits = stub.wait_for(lambda r: r["path"] == "/dlr" and r["q"].get("msg") == "out-42", count=2)
    time.sleep(0.5)
    hits = stub.matching(lambda r: r["path"] == "/dlr" and r["q"].get("msg") == "out-42")
    by_type = {str(r["q"]["type"]): r["q"] for r in hits}
    assert sorted(by_type) == ["1", "8"], hits
    for q in by_type.values():
        assert (q["to"], q["from"], q["smsc"]) == ("+6281100000008", SHORTCODE, MT_SMSC_ID)
    assert by_type["8"]["answer"] == "ACK/"
    assert by_type["1"]["answer"] == ""


def test_get_url_500_is_retried_then_dropped(kannel: KannelHarness, stub: StubServer) -> None:
    """A 500 from the get-url is retried http-request-retry (3) times, 1 s apart, then dropped."""
    kannel.inject("+6281100000009", SHORTCODE, "FAIL500 tolong dicoba lagi")
    hits = stub.wait_for(mo_from("+6281100000009"), count=4, timeout=10)
    time.sleep(1.5)
    hits = stub.matching(mo_from("+6281100000009"))
    assert len(hits) == 4, hits  # 1 attempt + 3 retries, then smsbox gives up
    assert len({r["q"]["id"] for r in hits}) == 1  # same message id on every attempt
    gaps = [b["at"] - a["at"] for a, b in zip(hits, hits[1:], strict=False)]
    assert all(0.5 <= g <= 3.0 for g in gaps), gaps


def test_mo_recode_and_clean_stop(stub: StubServer, tmp_path: Path) -> None:
    """mo-recode=true turns UCS-2 MOs into UTF-8 (coding=0), and stop() leaves no process."""
    get_url = stub.url("/channels/sms/kannel?" + GET_URL_QUERY.format(token="recode"))
    text = "Jalan rusak — parah 😡\nشكرا"
    with running_kannel(tmp_path, get_url, mo_recode=True) as k:
        k.inject("+6281100000010", SHORTCODE, text, coding="ucs2")
        (req,) = stub.wait_for(mo_from("+6281100000010"))
        pids = [p.pid for p in k._procs.values()]
    assert (req["q"]["coding"], req["q"]["charset"], req["q"]["text"]) == ("0", "UTF-8", text)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
