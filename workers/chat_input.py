"""What a citizen types into a guided conversation: the command words, and checking one answer.

Kept apart from ``workers.conversation`` (the turn logic) so the vocabulary a city may want to
extend, and the per-field checks, can be read and tested on their own.
"""

from __future__ import annotations

from normalizer.envelope import Identity
from normalizer.identity import check_identity, normalize_email, normalize_phone, validate_nik
from normalizer.normalize import FIELD_LIMITS

IDENTITY_FIELDS = ("nik", "name", "address", "phone", "email")

# Answers that skip the optional e-mail question.
SKIP_WORDS = frozenset({"-", "--", "lewati", "skip", "tidak", "tidak ada", "gak ada", "ga ada", "none", "no"})
# Command words (after "/") in Indonesian and English, and what each does.
COMMANDS = {
    "start": "help",
    "help": "help",
    "bantuan": "help",
    "mulai": "help",
    "lapor": "report",
    "report": "report",
    "adu": "report",
    "cek": "status",
    "status": "status",
    "check": "status",
    "lacak": "status",
    "batal": "cancel",
    "cancel": "cancel",
    "english": "english",
    "en": "english",
    "indonesia": "indonesian",
    "id": "indonesian",
    "bahasa": "indonesian",
}


def check_answer(field: str, value: str, *, home_region: str) -> tuple[str | None, str | None]:
    """Check one answer: ``(clean value, None)`` or ``(None, problem code)``.

    Problem codes are those of :func:`normalizer.identity.check_identity` (missing, invalid,
    format, region, birthdate). An e-mail answer of "-" (or "lewati") skips it: ``("", None)``.
    """
    value = value.strip()
    if field == "email" and value.lower() in SKIP_WORDS:
        return "", None
    if not value:
        return None, "missing"
    if field == "text":
        return value, None
    if field == "nik":
        problem = validate_nik(value, home_region=home_region)
        return (None, problem) if problem else ("".join(ch for ch in value if ch.isdigit()), None)
    if field == "phone":
        phone = normalize_phone(value)
        return (phone, None) if phone else (None, "invalid")
    if field == "email":
        email = normalize_email(value)
        return (email, None) if email else (None, "invalid")
    if field == "address":
        ok = len(value) >= 5 and any(ch.isalpha() for ch in value)
        return (value[: FIELD_LIMITS["address"]], None) if ok else (None, "invalid")
    problems = check_identity(Identity(name=value), required=(), home_region=home_region)
    return (None, problems[0].code) if problems else (value[: FIELD_LIMITS["name"]], None)


def has_identity_fields(identity: Identity) -> bool:
    """True when a parsed message labels at least one identity field ("NIK: ...")."""
    return any(getattr(identity, f) for f in IDENTITY_FIELDS)
