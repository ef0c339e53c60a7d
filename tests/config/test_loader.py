"""The city config: the shipped data files load, and broken files are rejected by file and line."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from config.loader import load_city_config
from config.problems import ConfigError
from tests.support.city import copy_config, edit, shipped_city

CITY = shipped_city()

KECAMATAN = {
    "kec-bogor-selatan": ("Kecamatan Bogor Selatan", "32.71.01"),
    "kec-bogor-timur": ("Kecamatan Bogor Timur", "32.71.02"),
    "kec-bogor-utara": ("Kecamatan Bogor Utara", "32.71.05"),
    "kec-bogor-tengah": ("Kecamatan Bogor Tengah", "32.71.03"),
    "kec-bogor-barat": ("Kecamatan Bogor Barat", "32.71.04"),
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

# ------------------------------------------------------------------ opd.yaml


@pytest.mark.parametrize(("code", "kind"), sorted(SOP_OPDS.items()))
def test_every_sop_opd_is_in_the_directory(code, kind):
    """Each OPD of the SOP table is in opd.yaml with its kind."""
    assert CITY.opds[code].kind == kind


@pytest.mark.parametrize(("code", "expected"), sorted(KECAMATAN.items()))
def test_kecamatan_have_their_district_codes(code, expected):
    """The six kecamatan carry their Kemendagri district code (not the statistics office's order)."""
    opd = CITY.opds[code]
    assert (opd.name, opd.district_code, opd.kind) == (*expected, "kecamatan")
    assert opd.kelurahan, "a kecamatan lists its kelurahan"


def test_kota_bogor_has_68_kelurahan():
    """The kecamatan entries list Kota Bogor's 68 kelurahan, none twice."""
    names = [k for opd in CITY.opds.values() for k in opd.kelurahan]
    assert len(names) == len(set(names)) == 68


def test_directory_holds_nothing_else():
    """The directory is exactly the SOP's OPDs plus the six kecamatan (no triage pseudo-OPD)."""
    assert set(CITY.opds) == set(SOP_OPDS) | set(KECAMATAN)


def test_the_loaded_config_cannot_be_changed():
    """No caller can change what the next one sees: the OPD directory is read-only."""
    with pytest.raises(TypeError):
        del CITY.opds["dlh"]  # type: ignore[attr-defined]
    assert "dlh" in CITY.opds


# ------------------------------------------------------------------ routing.yaml


def test_routing_rules_load_and_name_known_opds():
    """The shipped rules load; every rule names an OPD of the directory."""
    assert CITY.routing.min_score > 0
    assert {rule.opd for rule in CITY.routing.rules} <= set(CITY.opds)


def test_place_rules_come_from_the_kecamatan_entries():
    """Each kecamatan gets a low-weight rule of its own name and its kelurahan names."""
    config = CITY.routing
    places = {rule.opd: rule for rule in config.rules if rule.topic == "places"}
    assert set(places) == set(KECAMATAN)
    assert "Sempur" in places["kec-bogor-tengah"].keywords
    assert "Bogor Tengah" in places["kec-bogor-tengah"].phrases
    assert all(rule.weight == config.place_weight < config.min_score for rule in places.values())


# ------------------------------------------------------------------ sop.yaml


def test_sop_has_nine_steps_with_the_sop_time_standards():
    """Steps 1-9 carry the SOP's time standards (minutes) in order."""
    assert [step.step for step in CITY.sop.steps] == list(range(1, 10))
    assert [step.minutes for step in CITY.sop.steps] == [10, 30, 60, 30, 240, 1440, 30, 30, 30]


def test_sop_deadlines_add_up_to_31_hours_40_minutes():
    """The nine time standards total the SOP's ~31 h 40 min (1900 minutes)."""
    assert CITY.sop.total_minutes == 1900 == 31 * 60 + 40


@pytest.mark.parametrize(
    ("status", "step", "actor", "minutes"),
    [
        ("diajukan", 1, "citizen", 10),
        ("diterima", 2, "operator", 30),
        ("diverifikasi", 3, "operator", 60),
        ("disposisi", 4, "opd", 30),
        ("dianalisa", 5, "opd", 240),
        ("ditindaklanjuti", 6, "opd", 1440),
        ("dijawab", 7, "operator", 30),
        ("diterima_operator", 8, "operator", 30),
        ("selesai", 9, None, None),
        ("triase", 3, "operator", 60),
        ("dikembalikan_ke_pelapor", 3, "citizen", None),
        ("dikembalikan_ke_operator", 5, "operator", 60),
    ],
)
def test_sop_status_lookup(status, step, actor, minutes):
    """Each status maps to its SOP step, the actor who must move it, and its clock."""
    sop = CITY.sop
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
    assert CITY.sop.label(status, lang) == label


def test_sop_unknown_status_is_a_key_error():
    """Asking about a status that does not exist names it."""
    with pytest.raises(KeyError, match="ditolak"):
        CITY.sop.step_for_status("ditolak")


# ------------------------------------------------------------------ replies


REPLY_KEYS = {"ack", "ack_triage", "identity_missing", "status", "status_unknown", "answer", "empty_complaint"}


def test_reply_languages():
    """Indonesian and English replies are shipped, Indonesian (the fallback) first."""
    assert CITY.replies.available == ("id", "en")


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_reply_key_exists(lang):
    """Both languages have every reply key, every identity field and every problem code."""
    replies = CITY.replies.languages[lang]
    assert set(replies.templates) >= REPLY_KEYS
    assert set(replies.fields) == {"nik", "name", "address", "phone", "email"}
    assert set(replies.problems) == {"missing", "invalid", "format", "region", "birthdate"}


def placeholders(template: str) -> set[str]:
    """The {names} a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_languages_use_the_same_placeholders():
    """A key's templates take the same parameters in every language and form."""
    id_templates = CITY.replies.languages["id"].templates
    en_templates = CITY.replies.languages["en"].templates
    assert set(id_templates) == set(en_templates)
    for key, template in id_templates.items():
        expected = placeholders(template["text"])
        for form in (template, en_templates[key]):
            for variant in form.values():
                assert placeholders(variant) <= expected, (key, variant)
            assert placeholders(form["text"]) == expected, key


@pytest.mark.parametrize(("lang", "expected"), [("en-US", "en"), ("EN", "en"), ("../opd", "id"), ("", "id")])
def test_reply_language_falls_back_to_indonesian(lang, expected):
    """A language tag picks its base language's texts; anything else gets Indonesian."""
    assert CITY.replies.language(lang) == expected


# ------------------------------------------------------------------ broken copies: file and line


def problems_of(directory: Path, **kwargs: str) -> list[str]:
    """Every problem load_city_config reports for ``directory``, as printed."""
    with pytest.raises(ConfigError) as caught:
        load_city_config(directory, **kwargs)
    return [str(problem) for problem in caught.value.problems]


def test_a_copy_of_the_shipped_config_loads(tmp_path):
    """`intake config init`'s copy is a complete config directory."""
    assert load_city_config(copy_config(tmp_path)).summary() == CITY.summary()


def test_unknown_opd_in_a_routing_rule_names_its_line(tmp_path):
    """A rule naming an OPD that opd.yaml does not have is reported at that rule's `opd:` line."""
    path = copy_config(tmp_path) / "routing.yaml"
    line = edit(path, "- opd: dlh\n", "- opd: dlhh\n")
    assert problems_of(tmp_path) == [f"{path}:{line}: unknown OPD 'dlhh' (not in opd.yaml)"]


def test_missing_reply_template_names_the_file_and_templates_line(tmp_path):
    """A language file without a template the code renders is reported at its `templates:` line."""
    path = copy_config(tmp_path) / "replies" / "en.yaml"
    text = path.read_text(encoding="utf-8")
    # The template runs from its key to the next key at the same indentation.
    block = re.search(r"^  status_unknown:\n(?:(?:    .*)?\n)*", text, re.MULTILINE)
    assert block is not None
    path.write_text(text[: block.start()] + text[block.end() :], encoding="utf-8")
    line = text[: text.index("templates:")].count("\n") + 1
    assert problems_of(tmp_path) == [f"{path}:{line}: template 'status_unknown' is missing (the code uses it)"]


@pytest.mark.parametrize(("language", "wording"), [("en", "number {ticket}"), ("id", "nomor tiket {ticket}")])
def test_a_template_with_a_placeholder_the_code_does_not_pass_is_refused(tmp_path, language, wording):
    """{tiket} would fail when rendered, in a translation or the city's own Indonesian text: reported at its line."""
    path = copy_config(tmp_path) / "replies" / f"{language}.yaml"
    edit(path, wording, wording.replace("{ticket}", "{tiket}"))
    line = edit(path, "  ack:", "  ack:")
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{path}:{line}: template 'ack' uses {{tiket}}, which the code does not pass")
    assert "{ticket}" in problem


@pytest.mark.parametrize("minutes", ["0", "-5", "'sepuluh'", "1.5"])
def test_bad_sop_minutes_name_their_line(tmp_path, minutes):
    """A time standard that is not a positive whole number is reported at its `minutes:` line."""
    path = copy_config(tmp_path) / "sop.yaml"
    line = edit(path, "minutes: 240", f"minutes: {minutes}")
    assert problems_of(tmp_path) == [
        f"{path}:{line}: status 'dianalisa': minutes must be a positive whole number or null"
    ]


def test_a_status_the_transition_table_uses_must_be_defined(tmp_path):
    """A sop.yaml without a status the code moves cases to is refused, naming the file and the states' line."""
    path = copy_config(tmp_path) / "sop.yaml"
    edit(path, "status: dikembalikan_ke_operator", "status: dikembalikan_ke_opd")
    line = edit(path, "\nstates:\n", "\nstates:\n") + 1
    assert problems_of(tmp_path) == [
        f"{path}:{line}: status 'dikembalikan_ke_operator' is used by the transition table but not defined here"
    ]


def test_duplicate_opd_code_names_the_second_entry(tmp_path):
    """An OPD code used twice is reported at the second use, so the first stays routable."""
    path = copy_config(tmp_path) / "opd.yaml"
    line = edit(path, "- code: dishub\n", "- code: dlh\n")
    assert problems_of(tmp_path)[0] == f"{path}:{line}: OPD code 'dlh' is used twice"


def test_yaml_syntax_error_names_its_line(tmp_path):
    """A YAML syntax error is reported with the file and the line the parser stopped at."""
    path = copy_config(tmp_path) / "opd.yaml"
    line = edit(path, "short_name: DLH\n", "short_name: [DLH\n")
    found = problems_of(tmp_path)
    assert len(found) == 1
    assert found[0].startswith(f"{path}:")
    assert "YAML syntax error" in found[0]
    # The parser notices the unclosed list on the next line at the latest.
    assert int(found[0].split(":")[1]) in (line, line + 1)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "    keywords: [berlubang,",
            "    keywords: [jalan berlubang,",
            "keyword 'jalan berlubang' has several words; list it under phrases",
        ),
        ("    keywords: [berlubang,", "    keywords: [7, ", "'keywords' must be a list of non-empty strings"),
        ("min_score: 1.0", "min_score: satu", "'min_score' must be a number"),
    ],
)
def test_bad_routing_rules_name_their_line(tmp_path, old, new, message):
    """A malformed rule is reported once, at the line of the key that is wrong."""
    path = copy_config(tmp_path) / "routing.yaml"
    line = edit(path, old, new)
    assert problems_of(tmp_path) == [f"{path}:{line}: {message}"]


@pytest.mark.parametrize(
    ("variant", "ok"), [("whatsapp: Ketik di sini.", True), ("Whats-App: x", False), ("whatsapp: [1, 2]", False)]
)
def test_reply_templates_take_per_channel_variants(tmp_path, variant, ok):
    """A template may carry a wording for one channel beside 'text'; odd keys and non-strings are refused."""
    path = copy_config(tmp_path) / "replies" / "id.yaml"
    line = edit(path, "  chat_ask_text:\n", f"  chat_ask_text:\n    {variant}\n")
    if ok:
        city = load_city_config(tmp_path)
        assert city.replies.languages["id"].templates["chat_ask_text"]["whatsapp"] == "Ketik di sini."
    else:
        assert problems_of(tmp_path) == [
            f"{path}:{line}: template 'chat_ask_text' may only have 'text' and per-channel strings ('sms', ...)"
        ]


def test_a_key_given_twice_is_refused_at_its_second_line(tmp_path):
    """YAML keeps only the last of two equal keys; a second `minutes:` in one step is reported, not lost."""
    path = copy_config(tmp_path) / "sop.yaml"
    line = edit(path, "    minutes: 240\n", "    minutes: 240\n    minutes: 24\n") + 1
    assert problems_of(tmp_path) == [f"{path}:{line}: 'minutes' is given twice here; only one may be"]


def test_every_problem_is_reported_at_once(tmp_path):
    """Several broken files give one error listing each problem, not only the first."""
    copy_config(tmp_path)
    edit(tmp_path / "sop.yaml", "minutes: 240", "minutes: 0")
    edit(tmp_path / "opd.yaml", "- code: dishub\n", "- code: dlh\n")
    edit(tmp_path / "routing.yaml", "- opd: dlh\n", "- opd: dlhh\n")
    files = [p.split(":")[0] for p in problems_of(tmp_path)]
    assert sorted(set(files)) == [str(tmp_path / name) for name in ("opd.yaml", "routing.yaml", "sop.yaml")]


def test_kecamatan_must_be_a_district_of_the_home_region(tmp_path):
    """The district rule comes from REGION_CODE and the region list, not a pattern in the code."""
    path = copy_config(tmp_path) / "opd.yaml"
    line = edit(path, 'district_code: "32.71.01"', 'district_code: "32.01.01"')
    assert problems_of(tmp_path) == [
        f"{path}:{line}: kecamatan 'kec-bogor-selatan' needs a district_code of a district of REGION_CODE 32.71 "
        "in data/wilayah.csv, not '32.01.01'"
    ]


def test_a_district_code_from_the_wrong_table_is_refused(tmp_path):
    """Bogor Utara under the statistics office's 32.71.03 (Kemendagri: Bogor Tengah) is caught by name."""
    path = copy_config(tmp_path) / "opd.yaml"
    line = edit(path, 'district_code: "32.71.05"', 'district_code: "32.71.03"')
    assert problems_of(tmp_path) == [
        f"{path}:{line}: district 32.71.03 is 'Bogor Tengah' in data/wilayah.csv, not 'Kecamatan Bogor Utara'"
    ]


def test_another_city_only_changes_region_code_and_files(tmp_path):
    """Kabupaten Bogor's code (32.01) with its own district codes loads: nothing is tied to 32.71."""
    path = copy_config(tmp_path) / "opd.yaml"
    text = path.read_text(encoding="utf-8")
    for number, (name, code) in enumerate(sorted(KECAMATAN.values(), key=lambda item: item[1]), start=1):
        district = f"32.01.{number:02d}"
        text = text.replace(f"name: {name}\n", f"name: Kecamatan {CITY.regions.name(district)}\n")
        text = text.replace(f'district_code: "{code}"', f'district_code: "{district}"')
    path.write_text(text, encoding="utf-8")
    city = load_city_config(tmp_path, home_region="32.01")
    assert (city.opds["kec-bogor-selatan"].name, city.opds["kec-bogor-selatan"].district_code) == (
        "Kecamatan Cibinong",
        "32.01.01",
    )
    assert problems_of(tmp_path)[0].endswith("of REGION_CODE 32.71 in data/wilayah.csv, not '32.01.01'")


def test_unknown_region_code_is_refused(tmp_path):
    """A REGION_CODE that is not a regency in the region list stops start-up."""
    copy_config(tmp_path)
    assert f"{tmp_path / 'data' / 'wilayah.csv'}: REGION_CODE '99.99' is not a regency/city in this list" in (
        problems_of(tmp_path, home_region="99.99")
    )


def test_bad_region_row_names_its_line(tmp_path):
    """A malformed row of the region list is reported at its line (comment lines counted)."""
    path = copy_config(tmp_path) / "data" / "wilayah.csv"
    line = edit(path, "32.71.03,", "32.71.3,")
    found = problems_of(tmp_path)
    assert f"{path}:{line}: '32.71.3' is not a dotted region code such as 32.71.01" in found


def test_missing_file_and_missing_directory_are_named(tmp_path):
    """A config directory without sop.yaml says so; a CONFIG_DIR that does not exist too."""
    copy_config(tmp_path)
    (tmp_path / "sop.yaml").unlink()
    assert problems_of(tmp_path) == [f"{tmp_path / 'sop.yaml'}: file is missing"]
    assert problems_of(tmp_path / "nope")[0].startswith(f"{tmp_path / 'nope'}: CONFIG_DIR is not a directory")


# ------------------------------------------------------------------ part-manual: OPD contact


def test_an_opd_contact_address_is_loaded_normalised(tmp_path):
    """`contact:` is optional; when given it is the OPD's notice address (domain lower-cased)."""
    path = copy_config(tmp_path) / "opd.yaml"
    edit(path, "short_name: DLH\n", "short_name: DLH\n    contact: pengaduan.dlh@KotaBogor.go.id\n")
    city = load_city_config(tmp_path)
    assert city.opds["dlh"].contact == "pengaduan.dlh@kotabogor.go.id"
    assert city.opds["dishub"].contact is None


def test_an_invalid_opd_contact_names_its_line(tmp_path):
    """A contact that is not an e-mail address is reported at its `contact:` line."""
    path = copy_config(tmp_path) / "opd.yaml"
    line = edit(path, "short_name: DLH\n", "short_name: DLH\n    contact: dlh-at-kotabogor\n") + 1
    (problem,) = problems_of(tmp_path)
    assert problem.startswith(f"{path}:{line}: contact 'dlh-at-kotabogor' is not an e-mail address")
