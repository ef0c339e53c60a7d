"""Personal data never reaches the logs, not even inside a traceback."""

from __future__ import annotations

import io
import logging

import pytest
import structlog

from config.logging import configure_logging, mask


@pytest.fixture
def configured() -> object:
    """Our logging set-up, with pytest's own handlers put back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("INFO", "console")
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    structlog.reset_defaults()


def test_mask_hides_nik_phone_and_email() -> None:
    """NIKs, Indonesian mobile numbers and e-mail addresses are masked in any text."""
    text = mask("NIK 3271014505900002 telp 081234567890 / +6281234567890 mail siti@example.org tiket BGR-7KQ2XMP")
    assert "3271014505900002" not in text and "081234567890" not in text and "6281234567890" not in text
    assert "siti@example.org" not in text and "BGR-7KQ2XMP" in text
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in mask(
        "url /bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage"
    )


def test_events_and_tracebacks_are_redacted(configured: object) -> None:
    """A log line with personal data in its fields or in an exception's traceback shows none of it."""
    out = io.StringIO()
    ours = [
        h
        for h in logging.getLogger().handlers
        if getattr(h, "formatter", None) is not None and type(h.formatter).__name__ == "ProcessorFormatter"
    ]
    assert ours, "configure_logging installs one redacting handler"
    ours[0].stream = out  # type: ignore[attr-defined]
    log = structlog.get_logger("test")
    log.info("event", nik="3271014505900002", note="call 081234567890")
    try:
        raise ValueError("insert failed for 3271014505900002 siti@example.org")
    except ValueError:
        logging.getLogger("dramatiq.worker").exception("Failed to process message")
        log.exception("failed")
    err = out.getvalue()
    assert "ValueError" in err
    for secret in ("3271014505900002", "081234567890", "siti@example.org"):
        assert secret not in err


def test_our_hex_ids_are_not_masked_but_a_nik_beside_one_is() -> None:
    """An inbox id that happens to hold 16 digits in a row stays greppable; personal data around it is still masked."""
    inbox = "a1" + "3271014505900002" + "0" * 13 + "b"  # 32 hex characters, a NIK-like run inside
    assert mask(f"inbox={inbox}") == f"inbox={inbox}"
    assert mask(f"{inbox} NIK 3271014505900002 telp 081234567890") == f"{inbox} NIK [NIK] telp [PHONE]"
