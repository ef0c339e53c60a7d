"""Replies to the reporter, rendered from ``config/replies/<lang>.yaml``.

Each template has a long form (``text``) and optionally forms worded for one channel, keyed
by the channel's name (``sms``, ``whatsapp``...): a new channel gets its own wording in the
YAML, not in code. On the SMS channel the short ``sms`` form is used and the result is fitted
to one SMS (160 GSM-7 characters) at a word boundary, because every extra segment is paid for
and some phones show split messages out of order.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from config.loader import DEFAULT_LANGUAGE, available_languages, base_language, load_replies
from normalizer.text import GSM7_BASIC, GSM7_EXTENDED, fit_sms

SMS_SINGLE = 160
SMS_MULTIPART = 153  # septets per segment once a message is split (the rest is the UDH)

# Typographic characters that word processors put into OPD answers. None is in GSM-7, and
# one of them would switch the whole SMS to UCS-2 (70 characters instead of 160).
_GSM_LOOKALIKES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u2032": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2022": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
    }
)


def render_reply(key: str, lang: str, *, channel: str, sms_segments: int = 1, **params: object) -> str:
    """The reply ``key`` in ``lang`` (Indonesian when that language has no templates),
    filled with ``params``.

    The template's variant named after ``channel`` is used when there is one, else ``text``.
    For ``channel="sms"`` the result is also shortened at a word boundary (ending "...") to
    fit ``sms_segments`` SMS; keep the default of one except for long content such as an
    OPD's answer. Raises KeyError for an unknown key or a missing parameter.
    """
    language = _language(lang)
    template = load_replies(language)["templates"].get(key)
    if template is None and language != DEFAULT_LANGUAGE:
        template = load_replies(DEFAULT_LANGUAGE)["templates"].get(key)
    if template is None:
        raise KeyError(f"no reply template {key!r}")
    is_sms = channel == "sms"
    source = template.get(channel, template["text"])
    try:
        text = source.format(**params)
    except KeyError as exc:
        raise KeyError(f"reply {key!r} needs the parameter {exc.args[0]!r}") from None
    if not is_sms:
        return text
    limit = SMS_SINGLE if sms_segments <= 1 else SMS_MULTIPART * sms_segments
    return fit_sms(_to_gsm7(text), limit)


def field_labels(fields: Iterable[tuple[str, str]], lang: str) -> str:
    """Identity problems as text for the reporter: [("nik", "missing"), ("phone", "invalid")]
    -> "NIK (belum diisi), No. Telp (tidak valid)". Unknown codes are shown as they are.
    """
    replies = load_replies(_language(lang))
    names, problems = replies["fields"], replies["problems"]
    return ", ".join(f"{names.get(field, field)} ({problems.get(problem, problem)})" for field, problem in fields)


def _language(lang: str | None) -> str:
    """The reply language for a tag such as 'en-US'; Indonesian when there are no templates."""
    base = base_language(lang or "")
    return base if base in available_languages() else DEFAULT_LANGUAGE


def _to_gsm7(text: str) -> str:
    """Replace typographic characters and fold accents the GSM-7 alphabet lacks
    ("“Tindak lanjut” – selesai…" -> '"Tindak lanjut" - selesai...'), and send several
    lines as one: SMS readers see one message. Characters with no stand-in (emoji,
    non-Latin script) are kept; the text is then sent as UCS-2.
    """
    text = " ".join(text.translate(_GSM_LOOKALIKES).split())
    out = []
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENDED:
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if c in GSM7_BASIC or c in GSM7_EXTENDED)
        out.append(base or ch)
    return "".join(out)
