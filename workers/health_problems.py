"""What is wrong, in words: the problem list at the top of the health page, in ``/ops/status`` and
``intake queues``.

:func:`problems` reads a :class:`~workers.health_report.HealthPicture` against the ``HEALTH_*``
thresholds and says each problem in Indonesian and English ("IMAP poller disconnected for 12 min:
authentication failed"), with a severity (``critical`` before ``warning``) and a stable ``code``
(plus the ``subject`` it is about: a channel, provider, poller, process or queue) that external
monitors can match on. Times are said in WIB. Pure: the same picture, settings and ``now`` give
the same list, so tests freeze the clock by passing ``now``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from complaints import sla
from config.logging import mask
from config.model import CalendarConfig
from config.settings import ConfigurationError, Settings
from workers.health_report import HealthPicture, OutboundHealth, PollerView, ProcessHealth
from workers.office_hours import WIB, office_hours_of

SEVERITIES = ("critical", "warning")

CHANNEL_NAMES = {"sms": "SMS", "email": "e-mail", "telegram": "Telegram", "x": "X", "whatsapp": "WhatsApp"}
PROVIDER_NAMES = {
    "kannel": "Kannel sendsms",
    "twilio": "Twilio",
    "android_sms": "Android SMS gateway",
    "email": "SMTP (e-mail)",
    "telegram": "Telegram",
    "x": "X",
    "whatsapp": "WhatsApp",
    "app": "FCM push",
    "imap": "IMAP",
}

# Known error shapes -> words an operator acts on (Indonesian, English). The first match wins.
_ERROR_WORDS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(r"AUTHENTICATIONFAILED|authentication failed|LoginError|invalid credentials|\b401\b", re.I),
        "autentikasi gagal (pengguna atau kata sandi salah)",
        "authentication failed (wrong user or password)",
    ),
    (re.compile(r"ConnectionRefused|connection refused|Cannot connect to host|Connect call failed", re.I),
     "tidak dapat terhubung (koneksi ditolak)", "cannot connect (connection refused)"),
    (re.compile(r"gaierror|Name or service not known|nodename nor servname", re.I), "nama server tidak dikenal",
     "server name not found"),
    (re.compile(r"timed? ?out|TimeoutError", re.I), "waktu habis menunggu jawaban", "timed out"),
    (re.compile(r"SSL|certificate", re.I), "koneksi TLS gagal", "TLS connection failed"),
)  # fmt: skip
_HTTP_STATUS = re.compile(r"\b(?:answered|status|HTTP)\D{0,3}([1-5]\d\d)\b", re.I)


@dataclass(frozen=True)
class Problem:
    """One thing wrong, said in both console languages."""

    code: str
    severity: str
    subject: str
    text_id: str
    text_en: str

    def words(self, lang: str) -> str:
        """The problem in ``lang`` (``id`` or ``en``)."""
        return self.text_id if lang == "id" else self.text_en

    def as_json(self) -> dict[str, Any]:
        """For ``/ops/status``: code, severity, subject, text (English) and both texts."""
        return {
            "code": self.code,
            "severity": self.severity,
            "subject": self.subject,
            "text": self.text_en,
            "texts": {"id": self.text_id, "en": self.text_en},
        }


def _messages(n: int) -> str:
    return f"{n} message{'s' if n != 1 else ''}"


def error_words(error: str | None) -> tuple[str, str]:
    """A stored error as words (Indonesian, English); unknown errors are shown masked and short."""
    if not error:
        return "galat tidak diketahui", "unknown error"
    for pattern, words_id, words_en in _ERROR_WORDS:
        if pattern.search(error):
            return words_id, words_en
    short = mask(error)[:120]
    return short, short


def short_error(error: str | None) -> tuple[str, str]:
    """The HTTP status of a provider's refusal ("503"), else its words (Indonesian, English)."""
    match = _HTTP_STATUS.search(error or "")
    return (match.group(1), match.group(1)) if match else error_words(error)


def duration_words(span: timedelta) -> tuple[str, str]:
    """``12 menit`` / ``12 min`` below two hours, ``3 jam`` / ``3 h`` above."""
    minutes = max(0, int(span.total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} menit", f"{minutes} min"
    return f"{minutes // 60} jam", f"{minutes // 60} h"


def clock_words(at: datetime, now: datetime) -> str:
    """``10:42`` (WIB) today, ``2026-12-04 10:42`` another day."""
    local, today = at.astimezone(WIB), now.astimezone(WIB)
    return f"{local:%H:%M}" if local.date() == today.date() else f"{local:%Y-%m-%d %H:%M}"


def _poller_problem(poller: PollerView, settings: Settings, now: datetime) -> Problem | None:
    if poller.status != "error":
        return None
    name = PROVIDER_NAMES.get(poller.provider, poller.provider)
    why_id, why_en = error_words(poller.last_error)
    if poller.last_poll_at is None:
        # Never connected since it was set up: no grace period, it has never worked.
        return Problem("poller_error", "critical", poller.id, f"Poller {name} tidak dapat terhubung: {why_id}",
                       f"{name} poller cannot connect: {why_en}")  # fmt: skip
    down = now - poller.last_poll_at
    if down < timedelta(minutes=settings.health_poller_error_minutes):
        return None
    for_id, for_en = duration_words(down)
    return Problem("poller_error", "critical", poller.id, f"Poller {name} terputus selama {for_id}: {why_id}",
                   f"{name} poller disconnected for {for_en}: {why_en}")  # fmt: skip


def _outbound_problem(out: OutboundHealth, settings: Settings, now: datetime) -> Problem | None:
    threshold = timedelta(minutes=settings.health_outbound_failing_minutes)
    if out.failing_since is None or now - out.failing_since < threshold:
        return None
    name = PROVIDER_NAMES.get(out.provider, out.provider)
    for_id, for_en = duration_words(now - out.failing_since)
    last_id, last_en = short_error(out.last_error)
    why_id, why_en = (f" (galat terakhir: {last_id})", f" (last error: {last_en})") if out.last_error else ("", "")
    return Problem("outbound_failing", "critical", out.provider,
                   f"{name} menolak pengiriman selama {for_id}{why_id}",
                   f"{name} refusing for {for_en}{why_en}")  # fmt: skip


def _process_problem(process: ProcessHealth, now: datetime) -> Problem | None:
    if process.state != "missing":
        return None
    info = process.info
    since = clock_words(info.beat_at, now)
    where = f"{info.host}, pid {info.pid}"
    return Problem("process_missing", "critical", info.id,
                   f"Detak proses {info.role} ({where}) hilang sejak {since} WIB",
                   f"{info.role} heartbeat missing since {since} WIB ({where})")  # fmt: skip


def problems(picture: HealthPicture, settings: Settings, now: datetime) -> list[Problem]:
    """Everything wrong in ``picture`` at ``now``, critical first (a malformed HEALTH_OFFICE_HOURS is
    itself listed as a problem)."""
    found: list[Problem | None] = []
    if picture.queue_error is not None:
        found.append(Problem("broker_unreachable", "critical", "broker",
                             f"Antrean (broker) tidak dapat dibaca: {picture.queue_error}",
                             f"Queue broker cannot be read: {picture.queue_error}"))  # fmt: skip
    found += [_process_problem(p, now) for p in picture.processes]
    found += [_poller_problem(p, settings, now) for p in picture.pollers]
    found += [_outbound_problem(o, settings, now) for o in picture.outbound]
    if picture.stuck:
        n, minutes, s = picture.stuck, f"{settings.health_stuck_minutes:g}", "s" if picture.stuck != 1 else ""
        found.append(Problem("inbox_stuck", "critical", "inbox",
                             f"{n} pesan diterima lebih dari {minutes} menit lalu belum diproses",
                             f"{n} accepted message{s} older than {minutes} min not yet processed"))  # fmt: skip
    wait = timedelta(minutes=settings.health_stuck_minutes)
    for queue in picture.queues:
        age = queue.depth.oldest_ready_seconds
        if age is not None and timedelta(seconds=age) >= wait:
            for_id, for_en = duration_words(timedelta(seconds=age))
            found.append(Problem("queue_waiting", "warning", queue.depth.queue,
                                 f"Antrean {queue.depth.queue}: pesan tertua sudah menunggu {for_id}",
                                 f"Queue {queue.depth.queue}: the oldest message has waited {for_en}"))  # fmt: skip
    if picture.dead_inbox:
        n = picture.dead_inbox
        found.append(Problem("inbox_dead", "warning", "inbox",
                             f"{n} pesan masuk (24 jam terakhir) gagal diproses setelah semua percobaan",
                             f"{_messages(n)} received in the last 24 h given up after every retry"))  # fmt: skip
    if picture.dead_letters:
        n = picture.dead_letters
        found.append(Problem("dead_letters", "warning", "dead_letters",
                             f"{n} pesan di antrean pesan mati (dead-letter)",
                             f"{_messages(n)} in the dead-letter queue"))  # fmt: skip
    found += _quiet_channels(picture, settings, now)
    listed = [p for p in found if p is not None]
    return sorted(listed, key=lambda p: SEVERITIES.index(p.severity))


def _quiet_channels(picture: HealthPicture, settings: Settings, now: datetime) -> list[Problem]:
    # The city's working hours (calendar.yaml) unless HEALTH_OFFICE_HOURS overrides them; its
    # holidays and days off are not office hours either way.
    calendar = picture.calendar or sla.calendar_of(CalendarConfig())
    try:
        office = office_hours_of(calendar, settings.health_office_hours)
    except ConfigurationError as exc:
        # Said on the page rather than breaking it: every other problem still shows.
        return [Problem("office_hours_invalid", "warning", "settings", str(exc), str(exc))]
    quiet_after = timedelta(hours=settings.health_quiet_channel_hours)
    found = []
    if office.is_open(now):
        for channel in picture.channels:
            if not channel.expected or channel.last_in is None:
                continue
            silent = office.open_time_between(channel.last_in, now)
            if silent >= quiet_after:
                name = CHANNEL_NAMES.get(channel.channel, channel.channel)
                for_id, for_en = duration_words(silent)
                found.append(Problem("channel_quiet", "warning", channel.channel,
                                     f"Tidak ada {name} masuk selama {for_id} pada jam kerja",
                                     f"No {name} received for {for_en} during office hours"))  # fmt: skip
    return found
