"""The config loaders: the shipped data files load, and broken files are rejected by name."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

from config.loader import (
    available_languages,
    load_opds,
    load_replies,
    load_routing_rules,
    load_sop,
)

KECAMATAN = {
    "kec-bogor-selatan": ("Kecamatan Bogor Selatan", "32.71.01"),
    "kec-bogor-timur": ("Kecamatan Bogor Timur", "32.71.02"),
    "kec-bogor-utara": ("Kecamatan Bogor Utara", "32.71.03"),
    "kec-bogor-tengah": ("Kecamatan Bogor Tengah", "32.71.04"),
    "kec-bogor-barat": ("Kecamatan Bogor Barat", "32.71.05"),
    "kec-tanah-sareal": ("Kecamatan Tanah Sareal", "32.71.06"),
}

# The OPD table of SOP.md (code -> kind).
SOP_OPDS = {
    "pupr": "dinas",
    "disperumkim": "dinas",
    "dlh": "dinas",
    "dishub": "dinas",
    "disdukcapil": "dinas",
    "dinkes": "dinas",
    "disdik": "dinas",
    "dinsos": "dinas",
    "satpol-pp": "satuan",
    "bpbd": "badan",
    "damkar": "dinas",
    "dinkukmdagin": "dinas",
    "dpmptsp": "dinas",
    "bapenda": "badan",
    "disnaker": "dinas",
    "diskominfo": "dinas",
    "pdam": "perumda",
    "rsud": "rsud",
}

MINIMAL_OPDS = """
opds:
  - {code: dlh, name: Dinas Lingkungan Hidup, short_name: DLH, kind: dinas}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write a data file for one test."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ opd.yaml


@pytest.mark.parametrize(("code", "kind"), sorted(SOP_OPDS.items()))
def test_every_sop_opd_is_in_the_directory(code, kind):
    """Each OPD of the SOP table is in opd.yaml with its kind."""
    assert load_opds()[code].kind == kind


@pytest.mark.parametrize(("code", "expected"), sorted(KECAMATAN.items()))
def test_kecamatan_have_their_district_codes(code, expected):
    """The six kecamatan carry their Kemendagri district code."""
    opd = load_opds()[code]
    assert (opd.name, opd.district_code, opd.kind) == (*expected, "kecamatan")
    assert opd.kelurahan, "a kecamatan lists its kelurahan"


def test_kota_bogor_has_68_kelurahan():
    """The kecamatan entries list Kota Bogor's 68 kelurahan, none twice."""
    names = [k for opd in load_opds().values() for k in opd.kelurahan]
    assert len(names) == len(set(names)) == 68


def test_directory_holds_nothing_else():
    """The directory is exactly the SOP's OPDs plus the six kecamatan (no triage pseudo-OPD)."""
    assert set(load_opds()) == set(SOP_OPDS) | set(KECAMATAN)


def test_load_opds_returns_a_fresh_dict():
    """Changing the returned dict does not change what the next caller gets."""
    load_opds().pop("dlh")
    assert "dlh" in load_opds()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{code: dlh, name: X, short_name: X, kind: dinas}\n  - {code: dlh, name: Y, short_name: Y, kind: dinas}",
            "twice",
        ),
        ("{code: DLH, name: X, short_name: X, kind: dinas}", "lower-case"),
        ("{code: dlh, name: X, short_name: X, kind: ministry}", "kind"),
        ("{code: dlh, name: X, kind: dinas}", "short_name"),
        ("{code: kec-x, name: X, short_name: X, kind: kecamatan}", "district_code"),
        ("{code: dlh, name: X, short_name: X, kind: dinas, district_code: '32.71.01'}", "only a kecamatan"),
    ],
)
def test_opd_loader_rejects_bad_entries(tmp_path, entry, message):
    """A broken OPD entry stops loading with a message saying what is wrong."""
    path = write(tmp_path, "opd.yaml", f"opds:\n  - {entry}\n")
    with pytest.raises(ValueError, match=message):
        load_opds(path)


# ------------------------------------------------------------------ routing.yaml


def test_routing_rules_load_and_name_known_opds():
    """The shipped rules load; every rule names an OPD of the directory."""
    config = load_routing_rules()
    assert config.min_score > 0
    assert {rule.opd for rule in config.rules} <= set(load_opds())


def test_place_rules_come_from_the_kecamatan_entries():
    """Each kecamatan gets a low-weight rule of its own name and its kelurahan names."""
    config = load_routing_rules()
    places = {rule.opd: rule for rule in config.rules if rule.topic == "places"}
    assert set(places) == set(KECAMATAN)
    assert "Sempur" in places["kec-bogor-tengah"].keywords
    assert "Bogor Tengah" in places["kec-bogor-tengah"].phrases
    assert all(rule.weight == config.place_weight < config.min_score for rule in places.values())


def test_routing_loader_rejects_an_unknown_opd(tmp_path):
    """A rule naming an OPD that opd.yaml does not have is refused, naming the OPD."""
    opds = write(tmp_path, "opd.yaml", MINIMAL_OPDS)
    rules = write(
        tmp_path,
        "routing.yaml",
        """
min_score: 1
rules:
  - {opd: dlh, keywords: [sampah]}
  - {opd: dinas-xyz, keywords: [apa]}
""",
    )
    with pytest.raises(ValueError, match="dinas-xyz"):
        load_routing_rules(rules, opds_path=opds)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("rules: [{opd: dlh, keywords: [sampah]}]", "min_score"),
        ("min_score: 1\nrules: []", "rules"),
        ("min_score: 1\nrules: [{opd: dlh}]", "no keywords"),
        ("min_score: 1\nrules: [{opd: dlh, keywords: [sampah liar]}]", "phrases"),
        ("min_score: 1\nrules: [{opd: dlh, keywords: [sampah], weight: 0}]", "positive"),
    ],
)
def test_routing_loader_rejects_bad_rules(tmp_path, rules, message):
    """Malformed routing files stop loading with a message saying what is wrong."""
    opds = write(tmp_path, "opd.yaml", MINIMAL_OPDS)
    path = write(tmp_path, "routing.yaml", rules)
    with pytest.raises(ValueError, match=message):
        load_routing_rules(path, opds_path=opds)


# ------------------------------------------------------------------ sop.yaml


def test_sop_has_nine_steps_with_the_sop_time_standards():
    """Steps 1-9 carry the SOP's time standards (minutes) in order."""
    sop = load_sop()
    assert [step.step for step in sop.steps] == list(range(1, 10))
    assert [step.minutes for step in sop.steps] == [10, 30, 60, 30, 240, 1440, 30, 30, 30]


def test_sop_deadlines_add_up_to_31_hours_40_minutes():
    """The nine time standards total the SOP's ~31 h 40 min (1900 minutes)."""
    assert load_sop().total_minutes == 1900 == 31 * 60 + 40


@pytest.mark.parametrize(
    ("status", "step", "actor", "minutes"),
    [
        ("diajukan", 1, "citizen", 10),
        ("diterima", 2, "operator", 30),
        ("diverifikasi", 3, "operator", 60),
        ("disposisi", 4, "opd", 30),
        ("dianalisa", 5, "opd", 240),
        ("ditindaklanjuti", 6, "opd", 1440),
        ("dijawab", 7, "opd", 30),
        ("jawaban_diterima", 8, "operator", 30),
        ("dimoderasi", 9, "operator", 30),
        ("triase", 3, "operator", 60),
        ("dikembalikan_ke_pelapor", 3, "citizen", None),
        ("dikembalikan_ke_operator", 5, "operator", 60),
        ("selesai", 9, None, None),
    ],
)
def test_sop_status_lookup(status, step, actor, minutes):
    """Each status maps to its SOP step, the actor who must move it, and its clock."""
    sop = load_sop()
    assert (sop.step_for_status(status), sop.actor(status), sop.deadline_minutes(status)) == (step, actor, minutes)


@pytest.mark.parametrize(
    ("status", "lang", "label"),
    [
        ("ditindaklanjuti", "id", "Ditindaklanjuti"),
        ("ditindaklanjuti", "en", "Being followed up"),
        ("dikembalikan_ke_pelapor", "en-GB", "Returned to reporter"),
        ("selesai", "jv", "Selesai"),
    ],
)
def test_sop_labels(status, lang, label):
    """Labels come in Indonesian and English; other languages fall back to Indonesian."""
    assert load_sop().label(status, lang) == label


def test_sop_unknown_status_is_a_key_error():
    """Asking about a status that does not exist names it."""
    with pytest.raises(KeyError, match="ditolak"):
        load_sop().step_for_status("ditolak")


def test_sop_loader_rejects_steps_out_of_order(tmp_path):
    """Steps must be numbered 1, 2, 3, ... in order."""
    path = write(
        tmp_path,
        "sop.yaml",
        """
steps:
  - {step: 1, status: a, actor: citizen, minutes: 10, label: {id: A}}
  - {step: 3, status: b, actor: operator, minutes: 10, label: {id: B}}
""",
    )
    with pytest.raises(ValueError, match="numbered"):
        load_sop(path)


# ------------------------------------------------------------------ replies


REPLY_KEYS = {"ack", "ack_triage", "identity_missing", "status", "status_unknown", "answer", "empty_complaint"}


def test_reply_languages():
    """Indonesian and English replies are shipped."""
    assert {"id", "en"} <= set(available_languages())


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_reply_key_exists(lang):
    """Both languages have every reply key, every identity field and every problem code."""
    replies = load_replies(lang)
    assert set(replies["templates"]) >= REPLY_KEYS
    assert set(replies["fields"]) == {"nik", "name", "address", "phone", "email"}
    assert set(replies["problems"]) == {"missing", "invalid", "format", "region", "birthdate"}


def placeholders(template: str) -> set[str]:
    """The {names} a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_languages_use_the_same_placeholders():
    """A key's templates take the same parameters in every language and form."""
    id_templates = load_replies("id")["templates"]
    en_templates = load_replies("en")["templates"]
    assert set(id_templates) == set(en_templates)
    for key, template in id_templates.items():
        expected = placeholders(template["text"])
        for form in (template, en_templates[key]):
            for variant in form.values():
                assert placeholders(variant) <= expected, (key, variant)
            assert placeholders(form["text"]) == expected, key


@pytest.mark.parametrize("lang", ["../opd", "EN", ""])
def test_replies_refuse_odd_language_codes(lang):
    """A language code is never used to build a path outside config/replies."""
    with pytest.raises(ValueError):
        load_replies(lang)


def test_reply_templates_take_per_channel_variants(tmp_path):
    """A template may carry a wording for one channel beside 'text'; odd keys and non-strings are refused."""
    good = write(tmp_path, "id.yaml", "templates:\n  chat_ask_text:\n    text: Tulis.\n    whatsapp: Ketik di sini.\n")
    assert load_replies("id", path=good)["templates"]["chat_ask_text"] == {
        "text": "Tulis.",
        "whatsapp": "Ketik di sini.",
    }
    for variant in ("Whats-App: x", "whatsapp: [1, 2]"):
        bad = write(tmp_path, "bad.yaml", f"templates:\n  ack:\n    text: Terima kasih.\n    {variant}\n")
        with pytest.raises(ValueError, match="per-channel"):
            load_replies("id", path=bad)
