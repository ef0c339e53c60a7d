"""complaints.similarity: stemmed, stop-word-free terms, their cosine, and the place a complaint names."""

from __future__ import annotations

import pytest

from complaints.similarity import Place, place, place_names, similarity, terms
from tests.support.city import shipped_city

PLACES = place_names(shipped_city().opds.values())
LIGHT_1 = "Lampu penerangan jalan di Jl. Pajajaran mati sudah 3 hari, gelap sekali kalau malam"
LIGHT_2 = "PJU mati di jalan Pajajaran, lampunya padam dan gelap. Mohon diperbaiki pak"
RUBBISH = "Sampah menumpuk di pinggir jalan Pajajaran tidak diangkut seminggu"


def test_the_same_street_light_written_two_ways_is_alike_and_rubbish_is_not() -> None:
    """Two reports of one dark street light score above 0.5; a rubbish report on the same street below it."""
    one, two, rubbish = terms(None, LIGHT_1), terms("Lampu mati", LIGHT_2), terms(None, RUBBISH)
    assert similarity(one, two) >= 0.5
    assert similarity(one, rubbish) < 0.5 and similarity(two, rubbish) < 0.5


def test_terms_are_stems_without_stop_words_or_courtesies() -> None:
    """Inflected words meet at their stem; greetings, "mohon", "saya", field labels never count."""
    found = terms("Tolong pak", "Mohon bantuan, saya mau lapor: sampahnya menumpuk, tumpukan sampah bau")
    assert {"sampah", "tumpuk", "bau"} <= found
    assert not found & {"tolong", "pak", "mohon", "saya", "lapor", "mau", "sampahnya", "menumpuk"}


def test_similarity_is_a_cosine_between_zero_and_one() -> None:
    """Identical sets score 1.0, disjoint or empty 0.0, and the order of arguments does not matter."""
    a, b = frozenset({"lampu", "mati", "gelap"}), frozenset({"lampu", "mati", "jalan", "pajajaran"})
    assert similarity(a, a) == 1.0
    assert similarity(a, frozenset({"sampah"})) == 0.0 and similarity(a, frozenset()) == 0.0
    assert similarity(a, b) == similarity(b, a) == pytest.approx(2 / (3 * 4) ** 0.5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Lampu mati di kelurahan Baranangsiang", Place("32.71.02", "Baranangsiang")),
        ("lampu mati kel. Tegallega, kec. Bogor Tengah", Place("32.71.03", "Tegallega")),
        ("jalan rusak di Kecamatan Bogor Barat", Place("32.71.04", None)),
        ("jalan rusak dekat Tanah Sareal", Place("32.71.06", None)),
        # A kelurahan that is also a word ("genteng": roof tile) is not a place without its marker.
        ("genteng sekolah bocor", Place()),
    ],
)
def test_place_is_read_from_marked_names_only(text: str, expected: Place) -> None:
    """Kelurahan count after their marker, kecamatan after theirs or by their full two-word name."""
    assert place(None, text, PLACES) == expected


def test_places_differ_only_when_both_are_known_and_different() -> None:
    """An unknown place matches anything; two kelurahan, or two kecamatan, must be the same."""
    here, there = Place("32.71.02", "Baranangsiang"), Place("32.71.02", "Katulampa")
    assert here.compatible(Place()) and Place().compatible(there)
    assert here.compatible(Place("32.71.02")) and not here.compatible(there)
    assert not here.compatible(Place("32.71.04"))
