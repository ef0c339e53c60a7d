"""Routing proposals: stemmed keywords and phrases pick one OPD, or send the complaint to triage."""

from __future__ import annotations

from collections import defaultdict

import pytest

from complaints.routing import RoutingDecision, route, stem_word, tokens
from config.model import RoutingConfig, RoutingRule
from tests.support.city import shipped_city

RULES = shipped_city().routing

KECAMATAN = {
    "kec-bogor-selatan",
    "kec-bogor-timur",
    "kec-bogor-utara",
    "kec-bogor-tengah",
    "kec-bogor-barat",
    "kec-tanah-sareal",
}


@pytest.mark.parametrize(
    ("text", "opd"),
    [
        # A phrase outweighs a landmark: the school is where the hole is, not what is wrong.
        ("jalan berlubang di depan sekolah", "pupr"),
        # "sampahnya" -> "sampah", "menumpuk" -> "tumpuk" after stemming.
        ("sampahnya menumpuk di TPS", "dlh"),
        ("lampu PJU mati", "disperumkim"),
        ("air PDAM tidak mengalir", "pdam"),
        ("angkot ngetem sembarangan", "dishub"),
        ("got mampet jadi banjir kalau hujan", "pupr"),
        ("banjir setinggi lutut di perumahan kami", "bpbd"),
        ("lampu merah di simpang Baranangsiang mati", "dishub"),
        ("warga membakar sampah sembarangan", "dlh"),
        ("ada sarang tawon besar di atap rumah", "damkar"),
        ("pedagang kaki lima berjualan di trotoar", "satpol-pp"),
        ("pengurusan KTP-el lama sekali", "disdukcapil"),
        ("bpjs ketenagakerjaan saya tidak bisa dicairkan", "disnaker"),
        ("pelayanan IGD RSUD Kota Bogor buruk", "rsud"),
        ("mohon informasi jadwal PPDB", "disdik"),
        ("pajak PBB saya naik drastis", "bapenda"),
        ("There is a pothole on the road", "pupr"),
    ],
)
def test_route_picks_the_opd(text, opd):
    """Typical complaints go to the OPD whose topic they are."""
    assert route(text, RULES).opd_code == opd


@pytest.mark.parametrize(
    "text",
    [
        "saya mau tanya sesuatu",
        "Selamat pagi, saya mau lapor",  # "selamat" is not a rescue (Damkar)
        "",
        "12345 !!!",
    ],
)
def test_route_without_topic_goes_to_triage(text):
    """Text that names no topic is not guessed at: it goes to the operator's triage queue."""
    decision = route(text, RULES)
    assert decision == RoutingDecision(None, 0.0, ())
    assert decision.needs_triage


def test_address_does_not_pull_a_complaint_to_the_kecamatan():
    """Kelurahan and kecamatan names in an address never outweigh the topic word."""
    decision = route("Lampu PJU mati di Kelurahan Babakan Kecamatan Bogor Tengah", RULES)
    assert decision.opd_code == "disperumkim"
    assert dict(decision.candidates)["kec-bogor-tengah"] < decision.score


def test_kelurahan_service_without_a_place_is_a_six_way_tie():
    """A kelurahan service matter with no place ties the six kecamatan: triage, all six listed."""
    decision = route("SKTM di kelurahan susah sekali", RULES)
    assert decision.opd_code is None
    assert {code for code, _ in decision.candidates[:5]} <= KECAMATAN
    assert decision.matched == ("sktm",)


def test_kelurahan_name_breaks_the_kecamatan_tie():
    """The kelurahan named in the text chooses its kecamatan."""
    assert route("pelayanan kantor kelurahan Sempur lambat", RULES).opd_code == "kec-bogor-tengah"


def test_landmark_alone_does_not_route():
    """A word that is mostly a landmark (sekolah, pasar) is below min_score on its own."""
    assert route("di depan sekolah", RULES).opd_code is None
    assert route("pasar", RULES).opd_code is None


def test_matched_explains_the_decision():
    """`matched` lists the rule terms as written in routing.yaml, in text order, once each."""
    decision = route("sampahnya menumpuk di TPS, sampah sampah sampah", RULES)
    assert decision.matched == ("sampah", "sampah menumpuk", "tps")
    assert decision.score == 1 + 2 + 1


def tie_rules(**overrides: float) -> RoutingConfig:
    """Two OPDs sharing nothing but equally strong words, for tie tests."""
    rules = (RoutingRule("dlh", keywords=("sampah",)), RoutingRule("pupr", keywords=("selokan",)))
    return RoutingConfig(overrides.get("min_score", 1.0), 2.0, 0.0, rules)


def test_tie_between_opds_goes_to_triage():
    """Two OPDs with the same top score: no guess, triage, both offered with their words."""
    decision = route("sampah di selokan", tie_rules())
    assert decision.opd_code is None
    assert decision.score == 1.0
    assert decision.matched == ("sampah", "selokan")
    assert {code for code, _ in decision.candidates} == {"dlh", "pupr"}


def test_score_below_min_score_goes_to_triage():
    """The best OPD must reach min_score."""
    assert route("sampah", tie_rules(min_score=1.5)).opd_code is None
    assert route("sampah", tie_rules(min_score=1.0)).opd_code == "dlh"


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("sampahnya", "sampah"),
        ("menumpuk", "tumpuk"),
        ("berlubang", "lubang"),
        ("kemacetan", "macet"),
        ("pdam", "pdam"),
    ],
)
def test_stem_word(word, stem):
    """Sastrawi strips Indonesian affixes and leaves unknown words alone."""
    assert stem_word(word) == stem


def test_tokens_split_on_non_letters_and_fold_case_and_accents():
    """Tokens are lower-case letter runs; digits and punctuation separate them."""
    assert tokens("KTP-el No.3271 Café") == ["ktp", "el", "no", "cafe"]


def test_no_stemmed_keyword_belongs_to_two_opds():
    """A word shared by two OPDs could only ever tie, so only the kecamatan may share words."""
    owners: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for rule in RULES.rules:
        for term in rule.keywords + rule.phrases:
            owners[tuple(stem_word(w) for w in tokens(term))].add(rule.opd)
    shared = {stems: opds for stems, opds in owners.items() if len(opds) > 1 and not opds <= KECAMATAN}
    assert shared == {}
