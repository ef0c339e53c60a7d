"""Text clean-up and SMS helpers: decoding what gateways deliver, and fitting replies.

SMS replies cost money per segment, and one character outside the GSM 03.38 alphabet
(an emoji, a curly quote, "…") switches the whole message to UCS-2, which allows 70
characters instead of 160. So reply text is checked and trimmed here before it is sent.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Callable

__all__ = ["clean_text", "decode_sms_text", "fit_sms", "is_gsm7", "has_unstorable", "sms_segments", "storable"]

# GSM 03.38 default alphabet (ESC 0x1B left out: it only introduces the extension table).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each of these is sent as ESC + char, so it costs two septets.
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

ELLIPSIS = "..."  # "…" (U+2026) is not GSM-7 and would turn the reply into UCS-2

_SPACES = re.compile(r"[ \u00a0]+")  # NBSP comes from HTML mail; treat it as a space
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str, max_len: int = 5000) -> str:
    """Tidy user text: NFC, no control characters (except newline and tab), LF line ends,
    single spaces, no outer whitespace, at most ``max_len`` characters (cut at a word
    boundary when there is one).
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or (unicodedata.category(ch) != "Cc" and ch != "\ufeff"))
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip(" ") for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", text).strip()
    if len(text) > max_len:
        cut = text[: max_len + 1]
        space = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
        text = (cut[:space] if space > 0 else text[:max_len]).rstrip()
    return text


# part-hostile: what no database can store. A lone UTF-16 surrogate (JSON "\ud83d" from a phone
# that cut an emoji in half, or a byte aiohttp decoded with surrogateescape) cannot be encoded as
# UTF-8, and PostgreSQL refuses NUL in text: either fails the worker on every attempt.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable(value: object) -> object:
    """``value`` with every string (dict keys too, at any depth) made storable: lone surrogates
    become U+FFFD, NUL is dropped. Returns the very same object when nothing needed a change."""
    if isinstance(value, str):
        if not _UNSTORABLE.search(value):
            return value
        return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else REPLACEMENT, value)
    if isinstance(value, dict):
        cleaned = {storable(k): storable(v) for k, v in value.items()}
        same = len(cleaned) == len(value) and all(
            a is b and value[a] is cleaned[b] for a, b in zip(value, cleaned, strict=True)
        )
        return value if same else cleaned
    if isinstance(value, list | tuple):
        items = [storable(v) for v in value]
        if all(a is b for a, b in zip(value, items, strict=True)):
            return value
        return type(value)(items)
    return value


def has_unstorable(value: object) -> bool:
    """True when a string anywhere in ``value`` (dataclasses, dicts, lists, tuples) needs
    :func:`storable`. Reads without copying, so the common clean case costs little."""
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if value is None or isinstance(value, int | float):
        return False
    if isinstance(value, dict):
        for key, item in value.items():
            if has_unstorable(key) or has_unstorable(item):
                return True
        return False
    if isinstance(value, list | tuple):
        for item in value:
            if has_unstorable(item):
                return True
        return False
    names = getattr(type(value), "__dataclass_fields__", None)
    if names is not None:
        for name in names:
            if has_unstorable(getattr(value, name)):
                return True
    return False


# Kannel says "UCS-2" for coding=2; Python has no codec of that name, and UCS-2 from a
# phone is big-endian (plain "utf-16" would guess the byte order from the host).
_CHARSET_ALIASES = {
    "ucs-2": "utf-16-be",
    "ucs2": "utf-16-be",
    "utf-16": "utf-16-be",
    "utf16": "utf-16-be",
    "ucs-2be": "utf-16-be",
}


def decode_sms_text(raw: bytes | str, *, coding: str | None, charset: str | None) -> str:
    """Turn an SMS body as a gateway delivers it into text; never raises on odd bytes.

    ``coding`` follows Kannel: 0 = GSM 7-bit (delivered as UTF-8 or in ``charset``),
    1 = 8-bit binary, 2 = UCS-2 (UTF-16BE bytes). ``charset`` wins when Python knows it;
    otherwise coding 2 means UTF-16BE and anything else UTF-8, with bad bytes replaced.
    A ``str`` is taken as already decoded.
    """
    if isinstance(raw, str):
        return raw
    encoding = None
    if charset and charset.strip():
        name = charset.strip().lower()
        encoding = _CHARSET_ALIASES.get(name, name)
        if encoding == "utf-16-be" and raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            encoding = "utf-16"  # a BOM says which order it is; let Python read it
    elif str(coding).strip() == "2":
        encoding = "utf-16-be"
    if encoding:
        try:
            return raw.decode(encoding, errors="replace")
        except LookupError:  # a charset name Python does not know
            pass
    return raw.decode("utf-8", errors="replace")


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 03.38 basic set or its extension table."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def _units(text: str, gsm: bool) -> list[int]:
    """Cost of each character: septets for GSM-7 (2 for extension characters), UTF-16
    code units for UCS-2 (2 for characters outside the BMP, e.g. emoji)."""
    if gsm:
        return [2 if ch in GSM7_EXTENDED else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def sms_segments(text: str) -> int:
    """Number of SMS segments ``text`` needs: 160/153 for GSM-7, 70/67 for UCS-2.

    An escape pair or a surrogate pair is never split across segments, as phones do.
    An empty text still costs one message.
    """
    gsm = is_gsm7(text)
    units = _units(text, gsm)
    single, multi = (160, 153) if gsm else (70, 67)
    if sum(units) <= single:
        return 1
    segments, used = 1, 0
    for cost in units:
        if used + cost > multi:
            segments, used = segments + 1, 0
        used += cost
    return segments


def _shorten(text: str, limit: int, gsm: bool) -> str:
    """Cut ``text`` at a word boundary and add "..." so the result costs at most ``limit``."""
    budget = limit - len(ELLIPSIS)
    units = _units(text, gsm)
    total, end = 0, 0
    for i, cost in enumerate(units):
        if total + cost > budget:
            break
        total, end = total + cost, i + 1
    head = text[:end]
    # Back up to the last whitespace unless the cut already falls between words.
    if end < len(text) and not text[end].isspace():
        space = max(head.rfind(" "), head.rfind("\n"))
        if space > 0:
            head = head[:space]
        # else: a single word longer than the limit (a URL); cutting it is the only way
        # to respect the limit, which is the hard constraint.
    return head.rstrip(" \n\t,;:-") + ELLIPSIS


def fit_sms(text: str, limit: int = 160, *, ucs2_limit: int | None = None) -> str:
    """Return ``text`` unchanged if it fits one SMS, otherwise shortened at a word boundary
    with a "..." ending.

    GSM-7 text is fitted to ``limit`` septets (extension characters count 2). Text that
    needs UCS-2 is left alone unless ``ucs2_limit`` is given (e.g. 70), because cutting a
    long Indonesian answer to 70 characters loses more than an extra segment costs.
    """
    gsm = is_gsm7(text)
    cap = limit if gsm else ucs2_limit
    if cap is None or sum(_units(text, gsm)) <= cap:
        return text
    return _shorten(text, cap, gsm)


def utf16_units(ch: str) -> int:
    """How many UTF-16 code units ``ch`` takes (Telegram counts message length in them)."""
    return 2 if ord(ch) > 0xFFFF else 1


def split_for_messages(text: str, limit: int, *, units: Callable[[str], int] = lambda ch: 1) -> list[str]:
    """Cut ``text`` into messages of at most ``limit`` units, at a line break or space where possible.

    A chat channel caps one message (Telegram 4,096 UTF-16 units, WhatsApp 4,096 characters):
    a long answer goes as several. ``units`` says what one character costs. Only the whitespace at
    a cut is lost; nothing is cut mid-word unless a word alone is longer than half a message.
    """
    parts: list[str] = []
    while sum(units(ch) for ch in text) > limit:
        cut, used = 0, 0
        for ch in text:
            used += units(ch)
            if used > limit:
                break
            cut += 1
        brk = max(text.rfind("\n", 0, cut + 1), text.rfind(" ", 0, cut + 1))
        if brk > cut // 2:
            cut = brk
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    parts.append(text)
    return [part for part in parts if part]
