"""Reporter identity: NIK, name, address, phone and email.

The SOP requires NIK, Nama, Alamat and No Telp (plus e-mail where there is one) and
returns a complaint with missing or false identity to the citizen. This module extracts
those fields from SMS/email text (:func:`parse_identity_text`), normalises phone and
email, and lists what is wrong (:func:`check_identity`) so the reply can say why.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum.exceptions import InvalidFormat, InvalidLength, ValidationError
from stdnum.id import nik as stdnum_nik

from config.problems import Problems
from config.regions import REGIONS_FILE, Regions, load_regions
from config.settings import SHIPPED_CONFIG_DIR
from normalizer.envelope import Identity
from normalizer.identity_text import IdentityReading, read_identity_text, read_lapor

__all__ = [
    "IdentityParts",
    "Problem",
    "check_identity",
    "merge_identity",
    "nik_birth_date",
    "normalize_email",
    "normalize_phone",
    "parse_identity_parts",
    "parse_identity_text",
    "read_identity",
    "shipped_regions",
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

_SEPARATORS = " \t\r\n,;"


@functools.cache
def shipped_regions() -> Regions:
    """The region table shipped with the code, for callers that were not handed the city's own.

    Only used to recognise an unlabelled NIK in free text; checks that decide a complaint's
    fate (:func:`check_identity`) are always given the loaded city's table.
    """
    return load_regions(SHIPPED_CONFIG_DIR / REGIONS_FILE, Problems())


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


def read_identity(text: str, *, regions: Regions | None = None, today: date | None = None) -> IdentityReading:
    """Read the identity fields of a message as written, with where each stands in ``text``.

    The ``LAPOR#NIK#Nama#Alamat#Isi`` SMS form, or free text (see :mod:`normalizer.identity_text`).
    ``regions`` decides whether an unlabelled 16-digit number is a NIK (default: the shipped
    table). Values are not cleaned; :func:`parse_identity_text` does that.
    """
    lapor = read_lapor(text)
    if lapor is not None:
        return lapor
    table = regions or shipped_regions()
    return read_identity_text(
        text,
        is_nik=lambda value: validate_nik(value, regions=table, today=today) is None,
        is_phone=lambda value: normalize_phone(value) is not None,
    )


def parse_identity_text(
    text: str, *, regions: Regions | None = None, today: date | None = None
) -> tuple[Identity, str]:
    """Extract the reporter's identity from an SMS, e-mail, chat or tweet.

    Returns ``(identity, complaint_text)``. Understands the structured SMS form
    ``LAPOR#<NIK>#<nama>#<alamat>#<isi>`` (an email may come before the isi) and free text in
    Indonesian or English: labelled fields (``NIK:``, ``no ktp``, ``Nama``, ``sy``, ``almt``,
    ``tinggal di``, ``wa``, ``surel``, ``Isi:`` ...), a valid NIK anywhere, and an e-mail
    signature. Values are cleaned (NIK digits, phone E.164, e-mail normalised). Text in which
    nothing is found comes back unchanged with an empty Identity.
    """
    reading = read_identity(text, regions=regions, today=today)
    return _identity({name: read.value for name, read in reading.fields.items()}), reading.complaint


class IdentityParts(NamedTuple):
    """A message's identity read apart: see :func:`parse_identity_parts`."""

    labelled: Identity
    unlabelled: Identity
    complaint: str
    sources: dict[str, str]
    """Field -> where in the text it was read: ``label:<label as written>`` or ``text`` (no label)."""
    complaint_label: str | None = None
    """The label the complaint text stood behind ("Isi", "LAPOR#"), None when it had none."""


def parse_identity_parts(text: str, *, regions: Regions | None = None, today: date | None = None) -> IdentityParts:
    """Like :func:`parse_identity_text`, with the labelled and unlabelled values apart.

    A labelled value ("NIK: ...", the LAPOR# form) is what the writer says their identity is; an
    unlabelled one (a NIK after "saya", a signature) is only likely to be, so it must not
    override what the provider itself reports about the sender (part-parserfix, issue 13).
    ``sources`` says for each field read where it stood (the label word, never the value).
    """
    reading = read_identity(text, regions=regions, today=today)
    labelled = {name: read.value for name, read in reading.fields.items() if read.labelled}
    unlabelled = {name: read.value for name, read in reading.fields.items() if not read.labelled}
    sources = {
        name: f"label:{read.label}" if read.labelled and read.label else "text" for name, read in reading.fields.items()
    }
    return IdentityParts(
        _identity(labelled), _identity(unlabelled), reading.complaint, sources, reading.complaint_label
    )


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
