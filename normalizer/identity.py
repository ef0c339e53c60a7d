"""Reporter identity: NIK, name, address, phone and email.

The SOP requires NIK, Nama, Alamat and No Telp (plus e-mail where there is one) and
returns a complaint with missing or false identity to the citizen. This module extracts
those fields from SMS/email text (:func:`parse_identity_text`), normalises phone and
email, and lists what is wrong (:func:`check_identity`) so the reply can say why.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum.exceptions import InvalidFormat, InvalidLength, ValidationError
from stdnum.id import nik as stdnum_nik

from config.regions import Regions
from normalizer.envelope import Identity

__all__ = [
    "Problem",
    "check_identity",
    "merge_identity",
    "nik_birth_date",
    "normalize_email",
    "normalize_phone",
    "parse_identity_text",
    "validate_nik",
]

MAX_AGE_YEARS = 120


# --------------------------------------------------------------------------- phone, email


def normalize_phone(raw: str | None, region: str = "ID") -> str | None:
    """Return ``raw`` as an E.164 number (``"+6281234567890"``), or None when it is not valid.

    Accepts the usual Indonesian spellings: ``0812-3456-7890``, ``+62 812 3456 7890``,
    ``6281234567890`` (as SMS gateways report senders) and ``81234567890``.
    """
    if not raw or not raw.strip():
        return None
    text = raw.strip()
    candidates = [text]
    digits = re.sub(r"\D", "", text)
    # "62812..." without "+" is how Kannel and Android gateways report senders; parsed
    # with region ID it would be taken as a national number, so try it as international first.
    if not text.startswith("+") and digits.startswith("62") and len(digits) >= 10:
        candidates.insert(0, "+" + digits)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def normalize_email(raw: str | None) -> str | None:
    """Return the normalised address (domain lower-cased), or None when it is not valid.

    No DNS lookup: intake must not depend on the network, and a typo is caught when the
    reply bounces.
    """
    if not raw or not raw.strip():
        return None
    text = raw.strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


# --------------------------------------------------------------------------- NIK


def _nik_digits(nik: str) -> str:
    """Strip the separators people type into a NIK (spaces, dots, dashes)."""
    return stdnum_nik.compact(nik)


def nik_birth_date(nik: str, *, today: date | None = None) -> date | None:
    """Birth date encoded in a NIK (digits 7-12, DDMMYY, women's DD plus 40), or None.

    The century is decided from ``today``: a YY above today's two-digit year means 19YY,
    otherwise 20YY. (python-stdnum tries 19YY first and so turns a child born in 2005 into
    someone born in 1905.)
    """
    digits = _nik_digits(nik)
    if len(digits) != 16 or not digits.isdigit():
        return None
    today = today or date.today()
    day, month, yy = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    if day > 40:  # women: day + 40
        day -= 40
    century = 1900 if yy > today.year % 100 else 2000
    try:
        return date(century + yy, month, day)
    except ValueError:
        return None


def validate_nik(nik: str, *, regions: Regions, today: date | None = None) -> str | None:
    """Check a NIK. Returns None when it is valid, otherwise an error code.

    - ``"format"``: not 16 digits after removing spaces, dots and dashes, rejected by
      python-stdnum, or serial ``0000`` (serials start at 0001).
    - ``"region"``: digits 1-6 (PP.KK.DD) are not a kecamatan in ``regions`` (the config's
      ``data/wilayah.csv``).
    - ``"birthdate"``: digits 7-12 are not a real date, lie in the future, or are more than
      120 years ago.

    python-stdnum checks only the first four digits and guesses the century, so the region
    and date checks here replace its own. Any Indonesian district is accepted, not only the
    city's own: the SOP takes complaints from anyone, e.g. residents of Kabupaten Bogor.
    """
    digits = _nik_digits(nik or "")
    if len(digits) != 16 or not digits.isdigit() or digits.endswith("0000"):
        return "format"
    try:
        stdnum_nik.validate(digits)
    except (InvalidFormat, InvalidLength):
        return "format"
    except ValidationError:
        # InvalidComponent: bad date or a regency stdnum doesn't know. Both are decided
        # below with better data, which gives the citizen a more precise reason.
        pass
    if not regions.is_known_district(digits[:6]):
        return "region"
    today = today or date.today()
    born = nik_birth_date(digits, today=today)
    if born is None or born > today:
        return "birthdate"
    try:
        oldest = today.replace(year=today.year - MAX_AGE_YEARS)
    except ValueError:  # today is 29 February
        oldest = today.replace(year=today.year - MAX_AGE_YEARS, day=28)
    if born < oldest:
        return "birthdate"
    return None


# --------------------------------------------------------------------------- parsing text

# Label spellings -> Identity field ("text" is the complaint body). Longer spellings come
# first so "No KTP" wins over "KTP" and "No. HP" over "HP".
_LABELS: dict[str, tuple[str, ...]] = {
    "nik": (r"no\.?\s*ktp", r"nomor\s+ktp", r"nik", r"ktp"),
    "name": (r"nama\s+lengkap", r"nama", r"name"),
    "address": (r"alamat", r"address"),
    "phone": (
        r"no\.?\s*telp",
        r"no\.?\s*telepon",
        r"no\.?\s*hp",
        r"no\.?\s*wa",
        r"telepon",
        r"telp",
        r"hp",
        r"phone",
        r"whatsapp",
        r"wa",
    ),
    "email": (r"e-?mail", r"surel"),
    "text": (
        r"isi\s+pengaduan",
        r"isi\s+laporan",
        r"isi",
        r"pengaduan",
        r"laporan",
        r"keluhan",
        r"complaint",
    ),
}
_LABEL_FIELD = {alt: field for field, alts in _LABELS.items() for alt in alts}
# A label counts only at the start of the text, of a line, or after "," / ";" and must
# be followed by ":" or "=" so ordinary words ("nama jalan itu ...") are left alone.
_LABEL_RE = re.compile(
    r"(?:^|(?<=[,;]))[ \t]*(?P<label>"
    + "|".join(f"(?:{alt})" for alts in _LABELS.values() for alt in alts)
    + r")\.?[ \t]*[:=][ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
_LAPOR_RE = re.compile(r"\s*lapor\s*#", re.IGNORECASE)
_HASH_SPLIT = re.compile(r"\s*#\s*")
_EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SEPARATORS = " \t\r\n,;"


def _field_of(label: str) -> str:
    """Map a matched label spelling back to its Identity field."""
    key = re.sub(r"\s+", " ", label.lower())
    for alt, field in _LABEL_FIELD.items():
        if re.fullmatch(alt, key):
            return field
    raise AssertionError(label)  # the regex only matches known labels


def _clean_nik(value: str) -> str:
    """Digits only, unless letters are present: keep those raw so validation says "format"."""
    digits = _nik_digits(value)
    return digits if digits.isdigit() else value.strip()


def _clean_phone(value: str) -> str:
    """E.164 when possible; otherwise the raw value, so check_identity can say "invalid"."""
    return normalize_phone(value) or value.strip()


def _clean_email(value: str) -> str:
    """Normalised when valid; otherwise as given with the domain lower-cased."""
    value = value.strip()
    normalised = normalize_email(value)
    if normalised:
        return normalised
    local, at, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}" if at else value


def _identity(fields: dict[str, str]) -> Identity:
    """Build an Identity from raw field values, cleaning each; empty values become None."""
    cleaners = {"nik": _clean_nik, "phone": _clean_phone, "email": _clean_email}
    values = {}
    for field in ("nik", "name", "address", "phone", "email"):
        raw = (fields.get(field) or "").strip(_SEPARATORS)
        if raw:
            values[field] = cleaners.get(field, str.strip)(raw) or None
    return Identity(**values)


def _parse_lapor(text: str) -> tuple[Identity, str]:
    """``LAPOR#nik#nama#alamat#[email#]isi``; the last part is always the complaint."""
    body = _LAPOR_RE.sub("", text, count=1)
    # maxsplit keeps any '#' inside the complaint text as the citizen wrote it.
    parts = _HASH_SPLIT.split(body.strip(), maxsplit=3)
    if len(parts) < 4:
        # Short forms (LAPOR#nik#isi): fill fields from the front, the last part is the
        # complaint; what is missing is reported by check_identity instead of losing the text.
        *heads, isi = parts if len(parts) > 1 else ["", *parts]
        return _identity(dict(zip(("nik", "name", "address"), heads, strict=False))), isi.strip()
    nik, name, address, rest = parts
    email = None
    first, sep, remainder = rest.partition("#")
    if sep and _EMAIL_LIKE.fullmatch(first.strip()):
        email, rest = first, remainder
    fields = {"nik": nik, "name": name, "address": address, "email": email or ""}
    return _identity(fields), rest.strip()


def _parse_labelled(text: str) -> tuple[Identity, str] | None:
    """Labelled fields (``Nama: ...``, ``Alamat: ...``); None when there are no labels."""
    matches = list(_LABEL_RE.finditer(text))
    if not matches:
        return None
    fields: dict[str, str] = {}
    consumed: list[tuple[int, int]] = []
    i = 0
    while i < len(matches):
        m = matches[i]
        field = _field_of(m.group("label"))
        # The complaint body often has commas followed by words like "email:"; inside it
        # only a label at the start of a new line ends the value.
        j = i + 1
        if field == "text":
            while j < len(matches) and not _at_line_start(text, matches[j].start()):
                j += 1
        end = matches[j].start() if j < len(matches) else len(text)
        value = text[m.end() : end]
        # Addresses contain commas ("Jl. Pajajaran No. 5, RT 02/RW 03, Bogor Tengah") and
        # run to the next label or line end; single-value fields stop at "," ";" or newline.
        if field == "address":
            value = value.split("\n", 1)[0]
        elif field != "text":
            value = re.split(r"[,;\n]", value, maxsplit=1)[0]
        fields.setdefault(field, value.strip(_SEPARATORS))  # the first occurrence wins
        consumed.append((m.start(), m.end() + len(value)))
        i = j
    if "text" in fields:
        remaining = fields.pop("text")
    else:
        remaining = _leftover(text, consumed)
    return _identity(fields), remaining


def _at_line_start(text: str, pos: int) -> bool:
    """True when only spaces/tabs stand between ``pos`` and the previous newline (or start)."""
    line_start = text.rfind("\n", 0, pos) + 1
    return not text[line_start:pos].strip(" \t")


def _leftover(text: str, spans: list[tuple[int, int]]) -> str:
    """The text outside the labelled fields, line by line, trimmed of separators."""
    pieces, pos = [], 0
    for start, end in spans:
        pieces.append(text[pos:start])
        pos = end
    pieces.append(text[pos:])
    lines = "\n".join(pieces).replace("\r\n", "\n").split("\n")
    return "\n".join(line.strip(_SEPARATORS) for line in lines if line.strip(_SEPARATORS))


def parse_identity_text(text: str) -> tuple[Identity, str]:
    """Extract the reporter's identity from an SMS or email body.

    Returns ``(identity, complaint_text)``. Understands the structured SMS form
    ``LAPOR#<NIK>#<nama>#<alamat>#<isi>`` (an email may come before the isi) and free text
    with labelled fields in Indonesian or English (``NIK:``, ``Nama:``, ``Alamat:``,
    ``Telp:``, ``Email:``, ``Isi:`` ...). Text without either form comes back unchanged
    with an empty Identity.
    """
    if _LAPOR_RE.match(text):
        return _parse_lapor(text)
    parsed = _parse_labelled(text)
    return parsed if parsed is not None else (Identity(), text)


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an identity; ``code`` is missing|invalid|region|birthdate|format."""

    field: str
    code: str


_FIELD_ORDER = ("nik", "name", "address", "phone", "email")


def _name_ok(name: str) -> bool:
    """At least two letters and no digits: catches a NIK or phone typed into the name."""
    return sum(ch.isalpha() for ch in name) >= 2 and not any(ch.isdigit() for ch in name)


def check_identity(
    identity: Identity,
    *,
    regions: Regions,
    required: tuple[str, ...] = ("nik", "name", "address", "phone"),
    today: date | None = None,
) -> list[Problem]:
    """List the problems with ``identity``, in the order nik, name, address, phone, email.

    ``regions`` is the region list a NIK's district is looked up in. A required field that is
    empty is "missing". A field that is given is checked even
    when it is not required: a wrong email address means a reply that never arrives.
    """
    problems: list[Problem] = []
    for field in _FIELD_ORDER:
        value = (getattr(identity, field) or "").strip()
        if not value:
            if field in required:
                problems.append(Problem(field, "missing"))
            continue
        code: str | None = None
        if field == "nik":
            code = validate_nik(value, regions=regions, today=today)
        elif field == "name":
            code = None if _name_ok(value) else "invalid"
        elif field == "phone":
            code = None if normalize_phone(value) else "invalid"
        elif field == "email":
            code = None if normalize_email(value) else "invalid"
        if code:
            problems.append(Problem(field, code))
    return problems


def merge_identity(primary: Identity, fallback: Identity) -> Identity:
    """Fill the empty fields of ``primary`` from ``fallback``.

    Used e.g. to take the SMS sender's number as the phone when the text gave none.
    """
    updates = {
        f.name: getattr(fallback, f.name)
        for f in dataclasses.fields(primary)
        if not getattr(primary, f.name) and getattr(fallback, f.name)
    }
    return dataclasses.replace(primary, **updates) if updates else primary
