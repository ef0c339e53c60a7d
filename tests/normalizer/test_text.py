"""Text clean-up, SMS decoding, GSM-7 detection, segment counting and reply fitting."""

from __future__ import annotations

import pytest

from normalizer.text import clean_text, decode_sms_text, fit_sms, is_gsm7, sms_segments


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("  jalan   rusak  ", "jalan rusak"),
        ("baris1\r\nbaris2\rbaris3", "baris1\nbaris2\nbaris3"),
        ("a\x00b\x07c\td", "abc\td"),
        ("\ufeffhalo\u00a0\u00a0dunia", "halo dunia"),
        ("e\u0301", "\u00e9"),  # NFC
        ("a\n\n\n\n\nb", "a\n\nb"),
        ("satu  \n  dua", "satu\ndua"),
    ],
)
def test_clean_text(raw, cleaned):
    """clean_text normalises Unicode, line ends and spaces and drops control characters."""
    assert clean_text(raw) == cleaned


@pytest.mark.parametrize(
    ("raw", "max_len", "cleaned"),
    [
        ("jalan rusak parah sekali", 14, "jalan rusak"),
        ("jalan rusak", 11, "jalan rusak"),
        ("abcdefghij", 4, "abcd"),
    ],
)
def test_clean_text_max_len(raw, max_len, cleaned):
    """Long text is cut at a word boundary (hard cut only for one overlong word)."""
    assert clean_text(raw, max_len=max_len) == cleaned


@pytest.mark.parametrize(
    ("raw", "coding", "charset", "text"),
    [
        pytest.param("Jalan rusak", "0", None, "Jalan rusak", id="str-passthrough"),
        pytest.param(b"Jalan rusak", "0", None, "Jalan rusak", id="gsm-utf8"),
        pytest.param("Café".encode("latin-1"), "0", "ISO-8859-1", "Café", id="latin1-charset"),
        pytest.param("Halo 😀".encode("utf-16-be"), "2", "UCS-2", "Halo 😀", id="ucs2-charset"),
        pytest.param("Halo".encode("utf-16-be"), "2", "UTF-16BE", "Halo", id="utf16be-charset"),
        pytest.param("Halo".encode("utf-16-be"), "2", None, "Halo", id="ucs2-no-charset"),
        pytest.param(b"\xff\xfeH\x00i\x00", "2", "UTF-16", "Hi", id="utf16-with-le-bom"),
        pytest.param(b"ok\xff", "1", None, "ok\ufffd", id="binary-bad-byte"),
        pytest.param(b"ok", None, "x-no-such-charset", "ok", id="unknown-charset"),
    ],
)
def test_decode_sms_text(raw, coding, charset, text):
    """Bodies are decoded by charset, then Kannel coding, then UTF-8 with replacement."""
    assert decode_sms_text(raw, coding=coding, charset=charset) == text


def test_decode_sms_text_odd_bytes_never_raises():
    """An odd number of UCS-2 bytes is replaced, not an exception."""
    assert isinstance(decode_sms_text(b"\x00H\x00", coding="2", charset="UCS-2"), str)


@pytest.mark.parametrize(
    ("text", "gsm"),
    [
        ("Laporan Anda diterima. Tiket #A12, cek status: CEK A12", True),
        ("Harga €5 [promo] {x} ~ ^ | \\", True),
        ("Ærø Ñandù ¿què?", True),
        ("ú", False),  # acute u is not in GSM 03.38, grave ù is
        ("Terima kasih…", False),
        ("“kutip”", False),
        ("😀", False),
        ("ąę", False),
    ],
)
def test_is_gsm7(text, gsm):
    """GSM-7 covers the GSM 03.38 basic set and extension table, nothing else."""
    assert is_gsm7(text) is gsm


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),
        ("€" * 81, 2),
        ("a" * 152 + "€" + "a" * 8, 2),  # escape pair not split: still fits in two
        ("é" * 70, 1),  # é is GSM-7
        ("ą" * 70, 1),
        ("ą" * 71, 2),
        ("ą" * 134, 2),
        ("ą" * 135, 3),
        ("😀" * 35, 1),  # each emoji is two UTF-16 units
        ("😀" * 36, 2),
    ],
)
def test_sms_segments(text, segments):
    """Segments: 160/153 septets for GSM-7 (extension = 2), 70/67 units for UCS-2."""
    assert sms_segments(text) == segments


def test_fit_sms_short_text_unchanged():
    """Text that fits one SMS comes back unchanged."""
    text = "Laporan Anda sudah kami terima."
    assert fit_sms(text) == text


@pytest.mark.parametrize("limit", [160, 100, 40])
def test_fit_sms_cuts_at_word_boundary(limit):
    """Long GSM-7 text is cut between words, ends with "...", and fits the limit."""
    text = "Laporan Anda tentang jalan rusak di Jl. Pajajaran sudah diteruskan ke Dinas PUPR, " * 4
    fitted = fit_sms(text, limit)
    assert len(fitted) <= limit
    assert fitted.endswith("...") and not fitted.endswith(",...")
    head = fitted[:-3]
    assert text.startswith(head) and text[len(head)] in " ,"
    assert is_gsm7(fitted)


def test_fit_sms_counts_extension_chars_double():
    """Extension characters count as two septets when fitting."""
    fitted = fit_sms("€€€€ " * 40, 160)
    assert sum(2 if ch == "€" else 1 for ch in fitted) <= 160


@pytest.mark.parametrize(
    ("text", "ucs2_limit", "expected"),
    [
        ("Terima kasih… " * 20, None, "Terima kasih… " * 20),
        ("Terima kasih… laporan diterima", 70, "Terima kasih… laporan diterima"),
        (
            "Terima kasih… laporan Anda sudah kami terima dan diteruskan ke Dinas PUPR",
            40,
            "Terima kasih… laporan Anda sudah kami...",
        ),
    ],
)
def test_fit_sms_ucs2(text, ucs2_limit, expected):
    """Non-GSM-7 text is left alone unless ucs2_limit is given."""
    assert fit_sms(text, ucs2_limit=ucs2_limit) == expected


def test_fit_sms_single_long_word_respects_limit():
    """One word longer than the limit is cut hard: the limit is the hard constraint."""
    fitted = fit_sms("https://example.id/" + "a" * 300, 160)
    assert len(fitted) == 160 and fitted.endswith("...")
