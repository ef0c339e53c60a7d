"""How alike two complaints are: stemmed words and the place they name (issue 10, duplicate complaints).

Pure functions, no I/O. A complaint's *terms* are the Sastrawi stems of its subject and text
(the stemmer :mod:`complaints.routing` already uses), minus Indonesian stop words (Sastrawi's
list plus the words every complaint carries: greetings, "lapor", "mohon", field labels).
Two complaints are compared by the cosine of their term sets (``|A∩B| / sqrt(|A|·|B|)``), which
a long message and a short one about the same street light still share, unlike Jaccard, which a
long message's extra words drown.

The *place* is the kelurahan and kecamatan the complaint's words name, looked up in the city's
kecamatan OPDs (``opd.yaml``: each with its kelurahan). Only a name written after its marker
("kelurahan Tegallega", "kel. Babakan", "kec. Bogor Barat") counts, or a kecamatan's full
two-word name: many kelurahan are also ordinary words ("Genteng", "Gudang", "Empang"), and a
leaking roof tile is not a place. The reporter's own address is never used: it says where they
live, not where the broken light is.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from Sastrawi.StopWordRemover.StopWordRemoverFactory import StopWordRemoverFactory

from complaints.routing import MAX_CHARS, stem_word, tokens
from config.model import Opd

# Words nearly every complaint carries, which would make any two look alike.
_OWN_STOP_WORDS = frozenset(
    """
    mohon tolong pak bu bpk ibu bapak lapor laporan adu aduan pengaduan keluh keluhan warga saya sy kami
    kita aku terima kasih terimakasih makasih segera kota bogor nik nama alamat isi tiket rt rw no nomor
    sudah udah belum blm tidak tdk gak nggak ga yg dgn utk untuk sama mas mbak min admin halo selamat pagi
    siang sore malam assalamualaikum wr wb kelurahan kel kecamatan kec desa
    """.split()
)
_MIN_LETTERS = 3


PlaceNames = tuple[tuple[str, str, tuple[str, ...]], ...]
"""The city's kecamatan as (code, name, its kelurahan): what :func:`place` looks names up in."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where a complaint says the problem is: a kecamatan's code and a kelurahan's name, each if named."""

    kecamatan: str | None = None
    kelurahan: str | None = None

    def compatible(self, other: Place) -> bool:
        """False only when both name a kelurahan (or a kecamatan) and the names differ."""
        if self.kelurahan and other.kelurahan and self.kelurahan != other.kelurahan:
            return False
        return not (self.kecamatan and other.kecamatan and self.kecamatan != other.kecamatan)


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """Sastrawi's Indonesian stop words and the complaint words of :data:`_OWN_STOP_WORDS`."""
    return frozenset(StopWordRemoverFactory().get_stop_words()) | _OWN_STOP_WORDS


def terms(subject: str | None, text: str) -> frozenset[str]:
    """The stems that say what a complaint is about (stop words and words under 3 letters left out)."""
    stop = stop_words()
    found: set[str] = set()
    for word in tokens(f"{subject or ''}\n{text}"[:MAX_CHARS]):
        if len(word) < _MIN_LETTERS or word in stop:
            continue
        stem = stem_word(word)
        if len(stem) >= _MIN_LETTERS and stem not in stop:
            found.add(stem)
    return frozenset(found)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Cosine of two term sets, 0.0 (nothing shared, or either empty) to 1.0 (the same terms)."""
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


# --------------------------------------------------------------------------- place


@dataclass(frozen=True, slots=True)
class _Gazetteer:
    pattern: re.Pattern[str]
    kelurahan: Mapping[str, tuple[str, str]]
    """Folded kelurahan name -> (kecamatan code, kelurahan name as written in opd.yaml)."""
    kecamatan: Mapping[str, str]
    """Folded kecamatan name -> kecamatan code."""


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z]+", " ", folded).strip()


@lru_cache(maxsize=8)
def _gazetteer(kecamatan: PlaceNames) -> _Gazetteer | None:
    """The place names of ``kecamatan`` ((code, name, kelurahan...)) and one regex finding them in folded text."""
    kelurahan: dict[str, tuple[str, str]] = {}
    districts: dict[str, str] = {}
    for code, name, villages in kecamatan:
        districts[_fold(name)] = code
        for village in villages:
            kelurahan[_fold(village)] = (code, village)
    if not districts:
        return None
    names = sorted({*kelurahan, *districts}, key=len, reverse=True)  # longest first: "bogor barat" before "bogor"
    alternatives = "|".join(re.escape(n) for n in names)
    # A marker then a name, or a kecamatan's full two-word name on its own.
    two_word = "|".join(re.escape(n) for n in sorted(districts, key=len, reverse=True) if " " in n)
    pattern = rf"\b(?:(?P<marker>kelurahan|kel|desa|kecamatan|kec) (?P<name>{alternatives})"
    pattern += rf"|(?P<district>{two_word}))\b" if two_word else r")\b"
    return _Gazetteer(re.compile(pattern), kelurahan, districts)


def _district_name(opd: Opd) -> str:
    # "Kecamatan Bogor Selatan" -> "Bogor Selatan"
    return re.sub(r"^(kecamatan|kec\.?)\s+", "", opd.name, flags=re.IGNORECASE)


def place_names(opds: Iterable[Opd]) -> PlaceNames:
    """The city's kecamatan as (code, name, kelurahan): the argument :func:`place` takes (hashable, cacheable)."""
    return tuple((o.district_code or o.code, _district_name(o), tuple(o.kelurahan)) for o in opds if o.is_kecamatan)


def place(subject: str | None, text: str, kecamatan: PlaceNames) -> Place:
    """The first kelurahan (and its kecamatan), else the first kecamatan, the complaint names (see the module doc)."""
    gazetteer = _gazetteer(kecamatan)
    if gazetteer is None:
        return Place()
    district: str | None = None
    for match in gazetteer.pattern.finditer(_fold(f"{subject or ''}\n{text}"[:MAX_CHARS])):
        name = match.group("name") or match.group("district")
        marker = match.group("marker") or "kecamatan"
        if marker in ("kelurahan", "kel", "desa") and name in gazetteer.kelurahan:
            code, village = gazetteer.kelurahan[name]
            return Place(code, village)
        if marker in ("kecamatan", "kec") and name in gazetteer.kecamatan and district is None:
            district = gazetteer.kecamatan[name]
    return Place(district)
