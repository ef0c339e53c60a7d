"""Settings: documented, defaulted, and strict about half-configured providers."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import PROVIDER_VARIABLES, ConfigurationError, Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme_table(name: str) -> None:
    """Each setting appears in the README's configuration table (as its environment variable)."""
    assert f"`{name.upper()}`" in README


def test_defaults_run_embedded() -> None:
    """With nothing set, the system runs on SQLite under ./var with the in-process queue and no provider."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.resolved_database_url.startswith("sqlite:///") and settings.resolved_database_url.endswith(
        "var/intake.sqlite3"
    )
    assert settings.redis_url is None
    assert settings.check_providers() == []


@pytest.mark.parametrize("provider", sorted(p for p, (req, _) in PROVIDER_VARIABLES.items() if len(req) > 1))
def test_half_configured_provider_names_missing_variables(provider: str) -> None:
    """Setting one required variable of a provider raises, naming the others."""
    required, _ = PROVIDER_VARIABLES[provider]
    settings = Settings(_env_file=None, **{required[0].lower(): "2525"})  # type: ignore[arg-type, call-arg]
    with pytest.raises(ConfigurationError) as excinfo:
        settings.check_providers()
    for missing in required[1:]:
        assert missing in str(excinfo.value)


def test_postgres_urls_use_psycopg3() -> None:
    """postgres:// and postgresql:// URLs are mapped to the psycopg 3 driver."""
    for url in ("postgres://u@h/db", "postgresql://u@h/db"):
        assert Settings(_env_file=None, database_url=url).resolved_database_url == "postgresql+psycopg://u@h/db"  # type: ignore[call-arg]


def test_telegram_webhook_mode_needs_its_secret() -> None:
    """TELEGRAM_MODE=webhook without TELEGRAM_WEBHOOK_SECRET stops start-up; poll mode does not need it."""
    with pytest.raises(ConfigurationError) as excinfo:
        Settings(_env_file=None, telegram_bot_token="123:abc").check_providers()  # type: ignore[call-arg]
    assert "TELEGRAM_WEBHOOK_SECRET" in str(excinfo.value)
    assert "telegram" in Settings(_env_file=None, telegram_bot_token="123:abc", telegram_mode="poll").check_providers()  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError):
        Settings(_env_file=None, telegram_mode="poll").check_providers()  # type: ignore[call-arg]
