"""Typed settings from the environment (and an optional ``.env`` file).

Every setting has a default that runs the embedded system; providers are enabled by
setting their variables, and a provider that is only half configured stops start-up with
a message naming the variables that are missing (:meth:`Settings.check_providers`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Provider -> (variables that must all be set, optional variables). A provider is
# "configured" when any required variable is set, and "complete" when all are.
PROVIDER_VARIABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "kannel": (
        ("KANNEL_SENDSMS_URL", "KANNEL_USERNAME", "KANNEL_PASSWORD"),
        ("KANNEL_FROM", "KANNEL_INBOUND_TOKEN"),
    ),
    "twilio": (("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"), ("TWILIO_API_BASE",)),
    "android_sms": (
        ("ANDROID_SMS_GATEWAY_URL", "ANDROID_SMS_GATEWAY_USERNAME", "ANDROID_SMS_GATEWAY_PASSWORD"),
        ("ANDROID_SMS_GATEWAY_SIGNING_KEY",),
    ),
}


class ConfigurationError(RuntimeError):
    """Settings that cannot work together; the message says what to set."""


class Settings(BaseSettings):
    """All settings of the intake gateway. Field names map to upper-case env variables."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Where the SQLite file, attachments and logs go.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<DATA_DIR>/intake.sqlite3."
    )
    redis_url: str | None = Field(default=None, description="Redis for the queue; unset = in-process broker.")
    public_base_url: str = Field(
        default="http://127.0.0.1:8080", description="External base URL (signatures, callbacks, links)."
    )
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "INFO"
    log_format: str = Field(default="console", description="console or json.")
    default_language: str = "id"
    worker_threads: int = Field(default=4, description="Worker threads in embedded mode.")
    max_body_bytes: int = Field(default=64 * 1024, description="Largest webhook body accepted (413 above).")
    max_upload_bytes: int = Field(default=5 * 1024 * 1024, description="Largest web form photo.")
    sweep_interval_seconds: float = Field(default=30.0, description="How often the sweeper looks.")
    sweep_after_seconds: float = Field(
        default=120.0, description="Accepted messages or queued replies older than this are re-enqueued."
    )
    send_timeout_seconds: float = 15.0
    reply_max_retries: int = Field(default=8, description="Send attempts before a reply is marked failed.")
    retry_min_backoff_ms: int = Field(default=2000, description="First retry delay; doubles each time.")
    retry_max_backoff_ms: int = Field(default=600_000, description="Longest retry delay.")
    redis_namespace: str = Field(default="intake", description="Prefix of the Dramatiq keys in Redis.")
    worker_heartbeat_timeout_seconds: float = Field(
        default=60.0, description="After this, messages held by a dead worker go to another one."
    )
    region_code: str = Field(default="32.71", description="Home region (Kota Bogor).")

    kannel_sendsms_url: str | None = None
    kannel_username: str | None = None
    kannel_password: str | None = None
    kannel_from: str | None = None
    kannel_inbound_token: str | None = None

    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_api_base: str = "https://api.twilio.com"

    android_sms_gateway_url: str | None = None
    android_sms_gateway_username: str | None = None
    android_sms_gateway_password: str | None = None
    android_sms_gateway_signing_key: str | None = None

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under ``data_dir``."""
        if self.database_url:
            url = self.database_url
            # Heroku-style URLs name the driver "postgres"; SQLAlchemy wants psycopg 3.
            if url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://") :]
            elif url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        return f"sqlite:///{(self.data_dir / 'intake.sqlite3').resolve()}"

    @property
    def attachments_dir(self) -> Path:
        """Where attachment bytes are stored by hash."""
        return self.data_dir / "attachments"

    def provider_enabled(self, provider: str) -> bool:
        """True when every required variable of ``provider`` is set."""
        required, _ = PROVIDER_VARIABLES[provider]
        return all(getattr(self, name.lower()) for name in required)

    def check_providers(self) -> list[str]:
        """Return the enabled providers; raise if any is half configured."""
        enabled, problems = [], []
        for provider, (required, _optional) in PROVIDER_VARIABLES.items():
            present = [n for n in required if getattr(self, n.lower())]
            if present and len(present) < len(required):
                missing = [n for n in required if n not in present]
                problems.append(f"{provider}: set {', '.join(missing)} (or unset {', '.join(present)})")
            elif present:
                enabled.append(provider)
        if problems:
            raise ConfigurationError("half-configured provider(s): " + "; ".join(problems))
        return enabled


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides for tests."""
    return Settings(**overrides)  # type: ignore[arg-type]
