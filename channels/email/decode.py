"""Reading untrusted mail headers and bytes without ever raising.

Everything here turns what a sender wrote into plain, single-line text: charsets that
Python does not know fall back to UTF-8 and then Windows-1252/Latin-1, raw 8-bit bytes in
headers (RFC 6532 allows UTF-8 there; older mailers send Latin-1) are decoded the same way,
RFC 2047 encoded-words are decoded, and control characters, CR and LF are removed so that no
value read here can inject a header into a mail we send.
"""

from __future__ import annotations

import binascii
import codecs
import email.errors
import email.header
import email.policy
import email.utils
import re
import unicodedata
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.message import Message

from normalizer.identity import normalize_email

__all__ = [
    "MAX_HEADER_CHARS",
    "addresses",
    "decode_bytes",
    "decode_words",
    "header_date",
    "message_ids",
    "one_line",
    "part_bytes",
    "part_disposition",
    "part_filename",
    "part_type",
    "raw_header",
]

MAX_HEADER_CHARS = 16 * 1024
"""Longest header value read; longer ones are cut (a 100 KB Subject is an attack, not a subject)."""

MAX_ID_CHARS = 250
MAX_IDS = 50

# Labels whose bytes are in practice a superset (WHATWG Encoding Standard): mail marked
# ISO-8859-1 or US-ASCII from Windows carries curly quotes in 0x80-0x9F; GB2312 mail uses
# GBK characters; Shift_JIS mail from Windows uses CP932 extensions.
_SUPERSETS = {
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "l1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "tis-620": "cp874",
    "windows-874": "cp874",
}
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SPACE_RUN = re.compile(r"\s+")
_BRACKETED_ID = re.compile(rf"<([^<>\s]{{1,{MAX_ID_CHARS}}})>")
_ID_CHARS = re.compile(r"[!-;=?-~]+")  # printable ASCII without space, '<' and '>'


def _codec(charset: str | None) -> str | None:
    """The Python codec for a MIME charset label, or None when Python does not know it."""
    if not charset:
        return None
    label = charset.strip().strip("\"'").lower()
    label = _SUPERSETS.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    # bytes-to-bytes codecs (zlib, base64, hex...) are not charsets: "charset=zlib" must not
    # make us decompress anything.
    return info.name if getattr(info, "_is_text_encoding", True) else None


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode ``data`` in ``charset``; returns ``(text, problem)`` and never raises.

    A known charset decodes with U+FFFD for bad bytes. An unknown or missing one is read as
    UTF-8, with each byte that is not part of a valid UTF-8 sequence read as Windows-1252
    (Latin-1 for the five bytes cp1252 leaves undefined), and ``problem`` says so.
    """
    codec = _codec(charset)
    if codec == "cp1252":
        try:
            return data.decode("cp1252"), None
        except UnicodeDecodeError:
            return data.decode("latin-1"), None  # the 5 bytes cp1252 leaves undefined
    if codec is not None:
        try:
            text = data.decode(codec, errors="replace")
        except (LookupError, UnicodeError, ValueError):
            text = data.decode("utf-8", errors="replace")
        return text, (f"bad bytes for charset {one_line(charset, 40)}" if "\ufffd" in text else None)
    problem = f"unknown charset {one_line(charset, 40)!r}" if charset else None
    try:
        return data.decode("utf-8"), problem
    except UnicodeDecodeError:
        pass
    # Mixed bytes (a UTF-8 subject with a Latin-1 name pasted in): keep every valid UTF-8
    # sequence and read each stray byte as Windows-1252 (Latin-1 where cp1252 has a hole).
    text = "".join(
        _stray_byte(ch) if "\udc80" <= ch <= "\udcff" else ch for ch in data.decode("utf-8", errors="surrogateescape")
    )
    return text, problem or "not UTF-8 and no charset; stray bytes read as windows-1252"


def _stray_byte(ch: str) -> str:
    byte = bytes([ord(ch) - 0xDC00])
    try:
        return byte.decode("cp1252")
    except UnicodeDecodeError:
        return byte.decode("latin-1")


def one_line(value: str | None, max_chars: int | None = None) -> str:
    """``value`` as safe single-line text: no CR/LF or other control characters, no bidi
    overrides, no lone surrogates, whitespace runs collapsed, trimmed, cut to ``max_chars``."""
    if not value:
        return ""
    out = []
    for ch in value:
        cat = unicodedata.category(ch)
        if cat == "Cs":
            out.append("\ufffd")
        elif cat in ("Cc", "Zl", "Zp") or ch in _BIDI_CONTROLS or ch == "\ufeff":
            out.append(" ")
        else:
            out.append(ch)
    text = _SPACE_RUN.sub(" ", "".join(out)).strip()
    if max_chars is not None and len(text) > max_chars:
        text = text[:max_chars].rstrip()
    return text


def _unescape_8bit(value: str) -> tuple[str, bool]:
    """Undo the parser's surrogate escapes of raw 8-bit header bytes; True when there were any."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value, False
    data = value.encode("utf-8", errors="surrogateescape")
    text, _ = decode_bytes(data, None)
    return text, True


def raw_header(msg: Message, name: str, problems: list[str], *, keep: str = "head") -> str | None:
    """The first ``name`` header as written (unfolded, 8-bit bytes decoded), or None.

    Values longer than :data:`MAX_HEADER_CHARS` are cut (``keep="tail"`` keeps the end, for
    References where the newest ids come last) and a problem is recorded.
    """
    lname = name.lower()
    try:
        value = next((str(v) for k, v in msg.raw_items() if k.lower() == lname), None)
    except Exception:  # noqa: BLE001 - untrusted input: a broken header is a problem, not a crash
        problems.append(f"header {name} unreadable")
        return None
    if value is None:
        return None
    value = value.replace("\r", "").replace("\n", "")  # RFC 5322 unfolding
    if len(value) > MAX_HEADER_CHARS:
        problems.append(f"header {name} too long ({len(value)} chars), cut to {MAX_HEADER_CHARS}")
        value = value[-MAX_HEADER_CHARS:] if keep == "tail" else value[:MAX_HEADER_CHARS]
    value, had_8bit = _unescape_8bit(value)
    if had_8bit:
        problems.append(f"header {name} has raw 8-bit bytes")
    return value


def decode_words(value: str, problems: list[str] | None = None) -> str:
    """Decode RFC 2047 encoded-words (``=?utf-8?q?...?=``) in ``value``; never raises."""
    if "=?" not in value:
        return value
    try:
        chunks = email.header.decode_header(value)
    except (HeaderParseError, binascii.Error, ValueError, LookupError):
        if problems is not None:
            problems.append("undecodable encoded-word in header")
        return value
    out = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(chunk)
        elif charset is None:
            # decode_header turns the plain text between encoded-words into raw-unicode-escape bytes
            out.append(chunk.decode("raw-unicode-escape", errors="replace"))
        else:
            text, problem = decode_bytes(chunk, charset)
            if problem and problems is not None:
                problems.append(f"encoded-word: {problem}")
            out.append(text)
    return "".join(out)


def message_ids(value: str | None) -> tuple[str, ...]:
    """Message ids (without ``<>``) in a Message-ID/In-Reply-To/References value, in order,
    without duplicates, at most the last :data:`MAX_IDS`; ids with unsafe characters are dropped."""
    if not value:
        return ()
    found = _BRACKETED_ID.findall(value)
    if not found and "<" not in value:
        # Some mailers omit the angle brackets; accept one bare token.
        token = value.strip().split()
        found = token[:1]
    ids: list[str] = []
    for item in found:
        if len(item) <= MAX_ID_CHARS and _ID_CHARS.fullmatch(item) and item not in ids:
            ids.append(item)
    return tuple(ids[-MAX_IDS:])


def addresses(msg: Message, name: str, problems: list[str]) -> list[tuple[str, str | None]]:
    """``(display name, normalised address or None)`` for each address in header ``name``.

    The stdlib's strict parser is tried first (it decodes encoded-words inside quoted names);
    when it gives up (it raises, for example, on a CR/LF hidden in an encoded display name)
    the lenient ``getaddresses`` is used. Names come back single-line.
    """
    raw = raw_header(msg, name, problems)
    if raw is None or not raw.strip():
        return []
    pairs: list[tuple[str, str]] = []
    try:
        header = email.policy.default.header_factory(name, raw)
        pairs = [(a.display_name, a.addr_spec) for a in header.addresses]
    except Exception:  # noqa: BLE001 - the strict parser raises on hostile names; fall back below
        try:
            pairs = [(decode_words(n), a) for n, a in email.utils.getaddresses([raw])]
        except Exception:  # noqa: BLE001 - nothing readable: no addresses
            problems.append(f"header {name} has no readable address")
            return []
    result = []
    for display, addr in pairs:
        if not display and not addr:
            continue
        result.append((one_line(display, 200), normalize_email(one_line(addr, 320)) if addr else None))
    return result


def header_date(msg: Message, problems: list[str]) -> datetime | None:
    """The Date header as an aware UTC datetime (no zone means UTC), or None."""
    raw = raw_header(msg, "Date", problems)
    if not raw:
        return None
    try:
        value = email.utils.parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        problems.append("Date header unreadable")
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        problems.append("Date header out of range")
        return None


# --------------------------------------------------------------------------- MIME parts


def part_type(part: Message) -> str:
    """The part's content type (lower case); text/plain when it cannot be read."""
    try:
        return part.get_content_type()
    except Exception:  # noqa: BLE001 - untrusted input: an unreadable type is plain text (RFC 2045 default)
        return "text/plain"


def part_disposition(part: Message) -> str | None:
    """ "inline", "attachment" or None."""
    try:
        return part.get_content_disposition()
    except Exception:  # noqa: BLE001 - untrusted input
        return None


def part_filename(part: Message) -> str | None:
    """The filename as declared (RFC 2231 decoded by the stdlib), or None."""
    try:
        return part.get_filename()
    except Exception:  # noqa: BLE001 - untrusted input (RFC 2231 continuations gone wrong)
        return None


def part_bytes(part: Message, problems: list[str]) -> bytes | None:
    """The part's body with its transfer encoding undone; None when it cannot be decoded
    (including base64 so broken that the stdlib hands back the encoded text)."""
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - untrusted input: broken transfer encodings
        problems.append(f"{part_type(part)} part undecodable")
        return None
    if any(isinstance(d, email.errors.InvalidBase64LengthDefect) for d in part.defects):
        problems.append(f"{part_type(part)} part has broken base64")
        return None
    return data if isinstance(data, bytes) else None
