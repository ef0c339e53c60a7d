"""Read a reporter's identity from free text, as citizens actually write it.

A rule-based reader over a label lexicon (:mod:`normalizer.identity_lexicon`): it finds labels
("NIK", "no ktp", "nama", "sy", "almt", "tinggal di", "wa", "surel", ...) in any case, with or
without ``: = . - /`` after them, then reads each value by its own grammar, so a value ends
where its kind of text ends: a NIK after 16 digits, a name at the first word that cannot be a
name, an address at the next label, at a sentence end or where the complaint starts (a
lower-case word after the house number). A 16-digit number that is a valid NIK is taken
wherever it stands; an e-mail signature gives the name, phone and address under the closing.

The reader is pure: it does not validate a NIK or a phone itself but asks the predicates the
caller passes (:func:`normalizer.identity.parse_identity_text` passes the real checks), and it
returns where in the text each value was read (``start``/``end``) so a console can show it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from normalizer.identity_grammar import EMAIL_RE, FieldRead, Label, TextReader
from normalizer.identity_lexicon import AREA_MARKERS, CLOSINGS, LABELS, STREET_MARKERS

__all__ = ["FieldRead", "IdentityReading", "read_identity_text", "read_lapor"]


@dataclass(frozen=True, slots=True)
class IdentityReading:
    """What was read: identity fields by name, and the complaint text without them."""

    fields: dict[str, FieldRead] = field(default_factory=dict)
    complaint: str = ""
    complaint_label: str | None = None
    """The label the complaint stood behind ("Isi", "LAPOR#"): the writer sent a whole complaint."""


_NIK_ANYWHERE = re.compile(r"(?<![\d+])(?<!\d[ .\-])\d(?:[ .\-]?\d){15}(?![ .\-]?\d)")
_CLOSING_RE = re.compile(r"^[ \t]*(?:" + "|".join(CLOSINGS) + r")[ \t]*[,.!]*[ \t]*$", re.IGNORECASE | re.MULTILINE)
_TEXT_LABEL_START = re.compile(
    r"^[\s,;.]*(?:" + "|".join(LABELS["text"]) + r")(?![^\W\d_])[ \t]*[:=\-]?[ \t]*", re.IGNORECASE
)
_OTHER_NUMBER_BEFORE = re.compile(
    r"\b(?:rekening|rek|kartu|pelanggan|tiket|resi|invoice|pesanan|order|meter|token|account|card|akun|va)"
    r"\W*(?:[^\W\d_]+\W*)?$",
    re.IGNORECASE,
)
_SEPARATORS = " \t\r\n,;"
_LAPOR_RE = re.compile(r"\s*lapor\s*#", re.IGNORECASE)
_HASH_RE = re.compile(r"\s*#\s*")
_EMAIL_ONLY = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def read_lapor(text: str) -> IdentityReading | None:
    """``LAPOR#nik#nama#alamat#[email#]isi``, spaces around ``#`` allowed; None for other text.

    The last part is always the complaint and keeps any ``#`` the citizen wrote in it. Short
    forms (``LAPOR#nik#isi``) fill the fields from the front, so the complaint is never lost.
    """
    match = _LAPOR_RE.match(text)
    if match is None:
        return None
    bounds: list[tuple[int, int]] = []
    pos = match.end()
    for separator in _HASH_RE.finditer(text, pos):
        if len(bounds) == 3:
            break
        bounds.append((pos, separator.start()))
        pos = separator.end()
    rest = (pos, len(text))
    names = ("nik", "name", "address")
    fields: dict[str, FieldRead] = {}
    for name, (start, end) in zip(names, bounds, strict=False):
        value = text[start:end].strip()
        if value:
            lead = len(text[start:end]) - len(text[start:end].lstrip())
            fields[name] = FieldRead(value, start + lead, start + lead + len(value), labelled=True, label="LAPOR#")
    email_end = _HASH_RE.search(text, rest[0]) if len(bounds) == 3 else None
    if email_end is not None:
        candidate = text[rest[0] : email_end.start()].strip()
        if _EMAIL_ONLY.fullmatch(candidate):
            fields["email"] = FieldRead(candidate, rest[0], email_end.start(), labelled=True, label="LAPOR#")
            rest = (email_end.end(), len(text))
    return IdentityReading(fields, text[rest[0] : rest[1]].strip(), "LAPOR#")


def read_identity_text(text: str, *, is_nik: Callable[[str], bool], is_phone: Callable[[str], bool]) -> IdentityReading:
    """Read NIK, name, address, phone and e-mail from a message; return them and the complaint.

    ``is_nik`` and ``is_phone`` decide whether a number is a valid NIK / phone number. Values are
    returned as written; cleaning (digits only, E.164) is the caller's. A message in which
    nothing is found comes back unchanged as the complaint.
    """
    reader = TextReader(text, is_nik, is_phone)
    text_label: Label | None = None
    for label in reader.labels:
        if reader.taken(label.start):
            continue
        if label.kind == "text":
            if text_label is None and (label.explicit or "-" in text[label.start : label.value_start]):
                text_label = label
                reader.spans.append((label.start, label.value_start))
            continue
        _read_labelled(reader, label)
    _read_unlabelled(reader)
    complaint = _complaint(reader, text_label)
    written = text[text_label.start : text_label.value_start].strip(" \t:=-.") if text_label else None
    return IdentityReading(dict(reader.fields), complaint, written or None)


def _read_labelled(reader: TextReader, label: Label) -> None:
    kind, pos = label.kind, label.value_start
    # part-parserfix: "Saya ingin tanya nama program", "papan nama hilang", "Rumah di alamat Jl ...":
    # a label without ":" in mid-sentence is an ordinary word; and "NIK ibu saya ...", "Pak RT
    # nomor HP ...": a value in a sentence about someone else is theirs.
    if not label.explicit and kind != "self" and not reader.starts_clause(label):
        return
    if reader.third_party_before(pos):
        return
    if kind == "identity":
        _read_identity_parts(reader, label)
        return
    if kind == "self":
        kind = "name"
    if kind in reader.fields:
        return
    span: tuple[int, int] | None = None
    if kind == "nik":
        span = reader.read_nik(pos, labelled=True)
    elif kind == "phone":
        span = reader.read_phone(pos, explicit=label.explicit)
    elif kind == "email":
        span = reader.read_email(pos)
    elif kind == "name":
        span = reader.read_name(pos, weak=label.kind == "self", explicit=label.explicit)
    elif kind == "address":
        written = reader.text[label.start : label.value_start].lower()
        if written.startswith("warga") and not reader.warga_allowed(label):
            return
        if written.startswith("rumah") and not re.search(r"\b(?:saya|sy)\b", written) and not reader.fields:
            return  # part-parserfix: "Rumah di Jl Kenanga 4 dijadikan gudang" is not the writer's
        phrase = re.search(r"\b(?:di|live|living)\b", written)  # "tinggal di", "I live at"
        how = "warga" if written.startswith("warga") else "phrase" if phrase else "address"
        span = reader.read_address(pos, kind=how, explicit=label.explicit)
    if span is not None:
        reader.take(kind, *span, label_start=label.start)


def _read_identity_parts(reader: TextReader, label: Label) -> None:
    """Read "Identitas: Nama / NIK / Alamat": each part is told by its shape."""
    pos, first = label.value_start, True
    for _ in range(4):
        pos = reader.skip_blanks(pos)
        tokens = reader.tokens(pos)
        if not tokens:
            return
        token = tokens[0]
        if token.has_digit:
            kind, span = "nik", reader.read_nik(pos, labelled=True)
        elif token.core in STREET_MARKERS or token.core in AREA_MARKERS:
            kind, span = "address", reader.read_address(pos, kind="address", explicit=False)
        else:
            kind, span = "name", reader.read_name(pos, weak=False, explicit=True)
        if span is None:
            return
        reader.take(kind, *span, label_start=label.start if first else None, labelled=True)
        first = False
        separator = re.match(r"[ \t]*[/,|][ \t]*", reader.text[span[1] :])
        if separator is None:
            return
        pos = span[1] + separator.end()


def _read_unlabelled(reader: TextReader) -> None:
    """A valid NIK where the writer speaks of themself (with the name and street after it), the signature.

    Unlabelled values stay in the complaint text: only the writer's labels say for sure that a
    value is the writer's identity and not part of what they report.
    """
    text = reader.text
    for match in _NIK_ANYWHERE.finditer(text):
        if "nik" in reader.fields:
            break
        if reader.taken(match.start()) or not reader.is_nik(match.group()):
            continue
        if _OTHER_NUMBER_BEFORE.search(text, max(0, match.start() - 30), match.start()):
            continue  # "no rekening 3271...": a number the citizen calls something else
        # part-parserfix: "Saya Budi 3271..." is the writer's; "NIK ibu saya 3271...", "Nomor KK
        # 3271..." or a number standing alone in the complaint is not known to be.
        first_thing = not text[: match.start()].strip()  # "3271... Asep Jl Cilendek 12, ...": the SMS form
        if reader.third_party_before(match.start()) or not (first_thing or reader.self_reference_before(match.start())):
            continue
        reader.take("nik", match.start(), match.end())
        after = match.end()
        if "name" not in reader.fields and (span := reader.read_name(after, weak=True)):
            reader.take("name", *span)
            after = span[1]
        tokens = [t for t in reader.tokens(after)[:3] if t.text not in ",/"]
        if "address" not in reader.fields and tokens and tokens[0].core in STREET_MARKERS:
            if span := reader.read_address(tokens[0].start, kind="address", explicit=False):
                reader.take("address", *span)
    _read_signature(reader)
    # part-parserfix: an e-mail address standing in the text is no longer taken: "sudah kirim ke
    # pengaduan@kotabogor.go.id" names the city's address, not the writer's (labels and the
    # signature still give it).


def _read_signature(reader: TextReader) -> None:
    """The lines under "Salam," / "Hormat saya," / "Regards,": name, phone, e-mail, street."""
    text = reader.text
    for closing in _CLOSING_RE.finditer(text):
        pos = closing.end() + 1
        for _ in range(4):
            if pos >= len(text):
                return
            line_end = text.find("\n", pos)
            line_end = len(text) if line_end < 0 else line_end
            line = text[pos:line_end].strip()
            start = pos + len(text[pos:line_end]) - len(text[pos:line_end].lstrip())
            if line and not reader.taken(start) and not _CLOSING_RE.fullmatch(line):
                _read_signature_line(reader, start, line)
            pos = line_end + 1


def _read_signature_line(reader: TextReader, start: int, line: str) -> None:
    if reader.is_phone(line) and re.fullmatch(r"[\d+()\-. ]+", line):
        reader.take("phone", start, start + len(line))
        return
    if EMAIL_RE.fullmatch(line):
        reader.take("email", start, start + len(line))
        return
    if _NIK_ANYWHERE.fullmatch(line) and reader.is_nik(line):
        reader.take("nik", start, start + len(line))
        return
    tokens = reader.tokens(start)
    if tokens and tokens[0].core in STREET_MARKERS:
        if span := reader.read_address(start, kind="address", explicit=False):
            reader.take("address", *span)
        return
    if "name" not in reader.fields and (span := reader.read_name(start, weak=True, whole_line=True)):
        reader.take("name", *span)


def _complaint(reader: TextReader, text_label: Label | None) -> str:
    """The complaint: after an "Isi:" label up to the next identity label, else what is left."""
    text = reader.text
    if not reader.spans and text_label is None:
        return text
    if text_label is not None:
        later = [start for start, _ in reader.spans if start > text_label.value_start]
        end = min(later, default=len(text))
        return text[text_label.value_start : end].strip(_SEPARATORS)
    pieces, pos = [], 0
    for start, end in sorted(reader.spans):
        if start < pos:
            pos = max(pos, end)
            continue
        pieces.append(text[pos:start])
        pos = end
    pieces.append(text[pos:])
    # A complaint label right after a field ("... Jl Pajajaran 10 keluhan lampu mati") is dropped.
    pieces = [pieces[0]] + [_TEXT_LABEL_START.sub("", piece, count=1) for piece in pieces[1:]]
    joined = "".join(piece if i == 0 else " " + piece for i, piece in enumerate(pieces))
    joined = re.sub(r"\(\s*\)|\[\s*\]", " ", joined)
    joined = re.sub(r"[ \t]*([,;.:])(?:[ \t]*[,;.:])+", lambda m: "." if "." in m.group() else m.group(1), joined)
    joined = re.sub(r"[ \t]{2,}", " ", joined)
    lines = joined.replace("\r\n", "\n").split("\n")
    lines = [line.strip(_SEPARATORS).lstrip(". ") for line in lines]
    return "\n".join(line for line in lines if line)
