"""Typed settings from the environment (and an optional ``.env`` file).

Every setting has a default that runs the embedded system; providers are enabled by
setting their variables, and a provider that is only half configured stops start-up with
a message naming the variables that are missing (:meth:`Settings.check_providers`).
"""

from __future__ import annotations

from datetime import time
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from limits import RateLimitItem, parse_many
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The config files shipped with the code (OPD directory, routing, SOP, replies, regions): the
# default CONFIG_DIR, and what `intake config init` copies for a city to make its own.
SHIPPED_CONFIG_DIR = Path(__file__).resolve().parent

# Provider -> (variables that must all be set, optional variables). A provider is
# "configured" when any required variable is set, and "complete" when all are.
PROVIDER_VARIABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # Inbound secrets are required: an open webhook lets anyone make the city send SMS to
    # numbers of their choosing (SMS pumping) or forge delivery reports.
    "kannel": (
        ("KANNEL_SENDSMS_URL", "KANNEL_USERNAME", "KANNEL_PASSWORD", "KANNEL_INBOUND_TOKEN"),
        ("KANNEL_FROM",),
    ),
    "twilio": (
        ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"),
        ("TWILIO_API_BASE", "TWILIO_WEBHOOK_SHARED_KEY"),
    ),
    "android_sms": (
        (
            "ANDROID_SMS_GATEWAY_URL",
            "ANDROID_SMS_GATEWAY_USERNAME",
            "ANDROID_SMS_GATEWAY_PASSWORD",
            "ANDROID_SMS_GATEWAY_SIGNING_KEY",
        ),
        (),
    ),
    # Everything the X channel does (mentions, DMs, posting) needs OAuth 1.0a user context;
    # the app-only bearer token is accepted but not needed.
    "x": (
        ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET", "X_USER_ID"),
        ("X_BEARER_TOKEN", "X_API_BASE"),
    ),
    "telegram": (("TELEGRAM_BOT_TOKEN",), ("TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_MODE", "TELEGRAM_API_BASE")),
    # The app secret signs every webhook POST and the verify token answers Meta's handshake:
    # both are required, or anyone could post messages in a citizen's name.
    "whatsapp": (
        ("WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"),
        ("WHATSAPP_API_BASE", "WHATSAPP_API_VERSION"),
    ),
    "fcm": (("FCM_PROJECT_ID", "FCM_CREDENTIALS_FILE"), ("FCM_API_BASE",)),
    "imap": (("IMAP_HOST", "IMAP_USER", "IMAP_PASSWORD"), ("IMAP_PORT",)),
    "smtp_intake": (("SMTP_INTAKE_PORT", "SMTP_INTAKE_DOMAINS"), ("SMTP_INTAKE_HOST", "SMTP_INTAKE_MAX_BYTES")),
    "email": (("SMTP_HOST", "MAIL_FROM"), ("SMTP_USER", "SMTP_PASSWORD")),
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
        default=120.0, description="Work whose next attempt was due longer ago than this is re-enqueued."
    )
    send_timeout_seconds: float = 15.0
    reply_max_retries: int = Field(
        default=8, description="Retries after the first attempt (per inbox message or reply) before it fails."
    )
    retry_min_backoff_ms: int = Field(default=2000, description="First retry delay; doubles each time.")
    retry_max_backoff_ms: int = Field(default=600_000, description="Longest retry delay.")
    redis_namespace: str = Field(default="intake", description="Prefix of the Dramatiq keys in Redis.")
    worker_heartbeat_timeout_seconds: float = Field(
        default=60.0, description="After this, messages held by a dead worker go to another one."
    )
    region_code: str = Field(
        default="32.71", description="Home regency/city (Kota Bogor); its kecamatan OPDs must be its districts."
    )
    config_dir: Path = Field(
        default=SHIPPED_CONFIG_DIR,
        description="The city's config files (OPDs, routing, SOP, replies, regions); default: the shipped ones.",
    )
    ops_token: str | None = Field(default=None, description="Bearer token for GET /ops/status; unset = no endpoint.")
    # Issue 9: what operators watch (health page, /metrics, problem thresholds).
    monitor_interval_seconds: float = Field(
        default=10.0, description="How often each process writes its heartbeat and its activity counters."
    )
    metrics_token: str | None = Field(
        default=None, description="Bearer token Prometheus must send to scrape /metrics; unset = open."
    )
    health_refresh_seconds: int = Field(
        default=30, description="The health page reloads itself this often (0 = never)."
    )
    health_worker_missing_seconds: float = Field(
        default=60.0, description="A process whose heartbeat is older than this is reported missing."
    )
    health_stuck_minutes: float = Field(
        default=5.0, description="Accepted messages not processed after this long are a problem."
    )
    health_quiet_channel_hours: float = Field(
        default=3.0, description="An enabled channel silent this long during office hours is a problem."
    )
    health_office_hours: str = Field(
        default="",
        description=(
            "When silence on a channel is unusual, if not calendar.yaml's working hours (WIB),"
            " e.g. 'mon-fri 07:00-20:00'; empty: the calendar's hours."
        ),
    )
    health_outbound_failing_minutes: float = Field(
        default=5.0, description="A provider whose sends failed for this long, with none succeeding, is a problem."
    )
    health_poller_error_minutes: float = Field(
        default=2.0, description="A poller in error (disconnected) this long is a problem."
    )
    # part-reports: the public statistics page /statistik.
    statistik_min_cases: int = Field(
        default=5, ge=1, description="/statistik leaves out OPDs with fewer complaints than this in its window."
    )
    statistik_cache_seconds: float = Field(
        default=300.0, ge=0, description="/statistik's figures are rebuilt at most this often (0 = every request)."
    )
    # part-instrument: Dramatiq's own Prometheus exporter in processes that run workers (off by default).
    dramatiq_prometheus_port: int | None = Field(
        default=None,
        description="Serve Dramatiq's Prometheus middleware metrics on this port in worker processes; unset = off.",
    )
    dramatiq_prometheus_host: str = Field(
        default="127.0.0.1", description="Address Dramatiq's Prometheus exporter listens on (0.0.0.0 for all)."
    )
    secret_key: str | None = Field(
        default=None,
        description="Signs and encrypts staff sessions; unset: `intake serve` keeps one in DATA_DIR/secret_key.",
    )
    admin_email: str = Field(
        default="admin@localhost", description="E-mail of the admin user created on the first start."
    )
    login_max_failures_per_account: int = Field(default=5, description="Refused logins per account before a lock.")
    login_max_failures_per_address: int = Field(default=20, description="Refused logins per address before a lock.")
    login_lock_minutes: int = Field(default=15, description="The window failures are counted in (and the lock).")
    session_max_age_minutes: int = Field(
        default=480, gt=0, description="How long a staff console login lasts before it must be made again."
    )

    kannel_sendsms_url: str | None = None
    kannel_username: str | None = None
    kannel_password: str | None = None
    kannel_from: str | None = None
    kannel_inbound_token: str | None = None

    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_api_base: str = "https://api.twilio.com"
    twilio_webhook_shared_key: str | None = Field(
        default=None, description="Twilio's webhook SharedKey, for accounts that sign with it instead of the token."
    )

    android_sms_gateway_url: str | None = None
    android_sms_gateway_username: str | None = None
    android_sms_gateway_password: str | None = None
    android_sms_gateway_signing_key: str | None = None

    x_bearer_token: str | None = None
    x_consumer_key: str | None = None
    x_consumer_secret: str | None = None
    x_access_token: str | None = None
    x_access_token_secret: str | None = None
    x_user_id: str | None = Field(default=None, description="The city's own X account id (mentions of it are read).")
    x_api_base: str = Field(default="https://api.x.com", description="X API base URL.")
    sms_reply_provider: str | None = Field(
        default=None,
        description=(
            "The SMS provider (kannel, twilio, android_sms) that answers citizens who did not write by SMS "
            "(web form without e-mail, call-centre entries); unset: the first enabled of those."
        ),
    )
    # --- issue 8, delivery part: how long an SMS answer may be
    answer_sms_max_parts: int = Field(
        default=4,
        ge=1,
        le=10,
        description=(
            "Most SMS parts of one concatenated SMS answer; a longer answer is shortened and ends with the "
            "tracking link. Kannel's sendsms-user needs max-messages at least this and concatenation = true."
        ),
    )
    auto_dispose: bool = Field(
        default=True,
        description=(
            "The routing worker disposes a clearly matched complaint to its OPD at once; "
            "false leaves every verified complaint in the operator's inbox with the proposal."
        ),
    )
    # issue 13: a returned complaint completed by a short reply (workers/completion.py)
    complete_reply_window_days: float = Field(
        default=3.0,
        ge=0,
        description=(
            "Days after a complaint was returned for missing identity in which a short message from the same "
            "phone, e-mail address or chat completes it under the same ticket; later, a message is a new complaint."
        ),
    )
    # issue 14: the citizen rates the answer (complaints/rating.py)
    rating_period_working_days: int = Field(
        default=10,
        ge=1,
        description=(
            "Working days after a case is closed in which the citizen's PUAS / TIDAK PUAS (or 1-5) reply rates "
            "its answer; a TIDAK PUAS with a reason in this period reopens the case to its OPD."
        ),
    )
    x_webhook_enabled: bool = Field(
        default=False, description="Serve the Account Activity webhook at /channels/x (plans that include it)."
    )
    x_poll_seconds: float = Field(
        default=60.0, description="How often mentions and DMs are polled; 0 turns polling off (webhook only)."
    )

    telegram_bot_token: str | None = None
    telegram_webhook_secret: str | None = Field(
        default=None, description="Secret token Telegram sends with each webhook call (required in webhook mode)."
    )
    telegram_mode: str = Field(default="webhook", description="webhook or poll (long polling, no public HTTPS needed).")
    telegram_api_base: str = Field(default="https://api.telegram.org", description="Bot API base URL.")

    whatsapp_access_token: str | None = Field(default=None, description="Cloud API access token (system user).")
    whatsapp_phone_number_id: str | None = Field(default=None, description="The city's WhatsApp phone number ID.")
    whatsapp_app_secret: str | None = Field(default=None, description="Meta app secret: signs each webhook POST.")
    whatsapp_verify_token: str | None = Field(
        default=None, description="Our token for Meta's webhook verification handshake (hub.verify_token)."
    )
    whatsapp_api_base: str = Field(default="https://graph.facebook.com", description="Graph API base URL.")
    whatsapp_api_version: str = Field(default="v21.0", description="Graph API version in request paths.")

    fcm_project_id: str | None = None
    fcm_credentials_file: str | None = Field(default=None, description="Service-account JSON for FCM HTTP v1.")
    fcm_api_base: str = Field(default="https://fcm.googleapis.com", description="FCM API base URL.")

    imap_host: str | None = None
    imap_port: int | None = Field(default=None, description="Default 993 with IMAP_SSL, else 143.")
    imap_user: str | None = None
    imap_password: str | None = None
    imap_ssl: bool = True
    imap_folder: str = "INBOX"
    imap_processed_folder: str | None = Field(
        default=None, description="Move accepted mail here instead of only flagging it \\Seen."
    )
    imap_poll_seconds: float = Field(default=30.0, description="Polling interval when the server has no IDLE.")
    imap_idle_seconds: float = Field(default=25 * 60, description="Re-issue IDLE before the 29-minute limit.")

    smtp_intake_host: str = Field(default="127.0.0.1", description="Address our SMTP server listens on.")
    smtp_intake_port: int | None = None
    smtp_intake_domains: str | None = Field(default=None, description="Comma-separated domains we accept mail for.")
    smtp_intake_max_bytes: int = Field(default=25 * 1024 * 1024, description="Largest mail accepted (552 above).")
    smtp_intake_max_recipients: int = 20

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    mail_from: str | None = Field(default=None, description="From address of our replies, e.g. lapor@kota.go.id.")
    mail_auto_replies_per_hour: int = Field(default=5, description="Automatic replies per sender per hour, at most.")
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, description="Largest e-mail attachment kept.")

    # part-escalation: the scheduler (escalation of overdue steps, the OPDs' morning digest).
    scheduler_interval_seconds: float = Field(
        default=60.0, description="How often the scheduler runs its jobs (escalation, digest)."
    )
    scheduler_lease_seconds: float = Field(
        default=180.0,
        description="How long a scheduler holds its lease without renewing it; another one takes over after.",
    )
    # part-chaos: two `intake poller` processes, one polls (gateway/poller_lease.py).
    poller_lease_seconds: float = Field(
        default=30.0,
        ge=1.0,
        description="A standby poller takes an adapter over within this long after the active one dies.",
    )
    escalation_supervisor_email: str | None = Field(
        default=None, description="The operator supervisor's address: level-2 escalations go there (unset: none)."
    )
    escalation_level2_after_minutes: int = Field(
        default=240, description="Minutes after a step's deadline before it is escalated to the supervisor."
    )
    class_escalation_level2_after_minutes: int = Field(
        default=480,
        ge=0,
        description="Working minutes after a class deadline before the case is escalated to the supervisor.",
    )
    escalation_max_per_pass: int = Field(
        default=100,
        ge=1,
        description="Escalations (and their e-mails) one scheduler pass writes at most; the rest wait for the next.",
    )
    digest_time: time = Field(
        default=time(7, 0), description="Local time (DIGEST_TIMEZONE) after which each OPD gets its morning digest."
    )
    digest_timezone: str = Field(default="Asia/Jakarta", description="Time zone of DIGEST_TIME (WIB by default).")
    # issue 10, duplicate complaints (complaints/duplicates.py)
    duplicate_window_days: int = Field(
        default=14, ge=1, description="Open cases received within this many days of a case are compared with it."
    )
    duplicate_min_similarity: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="How alike (0..1, cosine of stemmed words) a case must be to be proposed as a duplicate.",
    )
    # issue 14, confidential and anonymous reports (complaints/confidential.py)
    opd_sees_identity: bool = Field(
        default=False,
        description="OPD staff see the reporter's identity (masked, revealed on request) on cases not marked"
        " anonymous; false: every case is anonymous toward the OPD (it answers to 'Pelapor').",
    )
    # part-hostile: request-level limits, applied to every route in one place (gateway/limits.py).
    request_read_timeout_seconds: float = Field(
        default=30.0,
        description="A client gets this long to send its headers, and its body may pause no longer than this"
        " (and take at most ten times this in all); then it is answered 408 and cut off.",
    )
    max_form_fields: int = Field(
        default=100, description="Most parts/fields one form body may have (413 above); the forms have ~12."
    )
    max_header_bytes: int = Field(
        default=8190, description="Longest request line and longest header field (431/400 above)."
    )
    max_header_count: int = Field(default=100, description="Most header lines one request may have.")
    upload_orphan_hours: float = Field(
        default=24.0, description="A photo kept for a rejected web-form post is deleted after this long."
    )
    # part-abuse (issue 12, section 3): per-address and per-sender limits, in the `limits` library's
    # notation ("5/minute;20/hour"); counted in Redis when REDIS_URL is set, else in memory.
    rate_limits_enabled: bool = Field(
        default=True, description="Apply the per-address and per-sender limits below (false: none; load tests)."
    )
    lookup_rate_limit: str = Field(
        default="60/minute;600/hour",
        description="Ticket look-ups (/lacak/<ticket>, the public status API, the app's own look-ups) per client"
        " address; above: 429 with Retry-After.",
    )
    device_registration_rate_limit: str = Field(
        default="10/minute;60/hour", description="App device registrations per client address; above: 429."
    )
    sender_rate_limit: str = Field(
        default="5/minute;20/hour",
        description="Messages per sender (phone, e-mail address, Telegram/X/WhatsApp user, app device); above it"
        " they are still stored but added to the sender's latest open case for the operator, and the sender is"
        " told once per SENDER_NOTICE_INTERVAL_MINUTES instead of getting a reply to each.",
    )
    web_form_rate_limit: str = Field(
        default="10/minute;60/hour",
        description="Web-form complaints per client address, handled like SENDER_RATE_LIMIT (the form's sender"
        " is its client address, since what the citizen types can change with every post).",
    )
    sender_notice_interval_minutes: int = Field(
        default=60, gt=0, description="At most one 'too many messages' notice per sender in this many minutes."
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses/networks of our reverse proxies: only a request from one of"
        " them has its client address read from X-Forwarded-For.",
    )

    @field_validator("lookup_rate_limit", "device_registration_rate_limit", "sender_rate_limit", "web_form_rate_limit")
    @classmethod
    def _rate_limit_notation(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate limit such as '5/minute;20/hour' ({exc})") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                try:
                    ip_network(part.strip(), strict=False)
                except ValueError:
                    raise ValueError(f"{part.strip()!r} is not an IP address or network") from None
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """TRUSTED_PROXIES as networks (a bare address is a /32 or /128)."""
        return tuple(ip_network(p.strip(), strict=False) for p in self.trusted_proxies.split(",") if p.strip())

    def rate_limit(self, name: str) -> tuple[RateLimitItem, ...]:
        """The parsed limits of the setting ``name`` (e.g. ``"lookup_rate_limit"``)."""
        return tuple(parse_many(getattr(self, name)))

    @property
    def intake_domains(self) -> frozenset[str]:
        """Lower-cased domains from SMTP_INTAKE_DOMAINS."""
        return frozenset(d.strip().lower() for d in (self.smtp_intake_domains or "").split(",") if d.strip())

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

    def _explicit(self, field: str) -> bool:
        value = getattr(self, field)
        return value is not None and value != type(self).model_fields[field].default

    def check_providers(self) -> list[str]:
        """Return the enabled providers; raise if any is half configured."""
        enabled, problems = [], []
        for provider, (required, optional) in PROVIDER_VARIABLES.items():
            present = [n for n in required if getattr(self, n.lower())]
            # An optional variable set on its own (e.g. only KANNEL_FROM) is a half set-up too.
            chosen = present + [n for n in optional if self._explicit(n.lower())]
            if chosen and len(present) < len(required):
                missing = [n for n in required if n not in present]
                problems.append(f"{provider}: set {', '.join(missing)} (or unset {', '.join(chosen)})")
            elif present:
                enabled.append(provider)
        if "telegram" in enabled:
            if self.telegram_mode not in ("webhook", "poll"):
                problems.append(f"telegram: TELEGRAM_MODE must be webhook or poll, not {self.telegram_mode!r}")
            elif self.telegram_mode == "webhook" and not self.telegram_webhook_secret:
                problems.append("telegram: set TELEGRAM_WEBHOOK_SECRET (required when TELEGRAM_MODE=webhook)")
        if problems:
            raise ConfigurationError("half-configured provider(s): " + "; ".join(problems))
        return enabled


SMS_PROVIDERS: tuple[str, ...] = ("kannel", "twilio", "android_sms")


def outbound_sms_provider(settings: Settings) -> str | None:
    """The provider that sends SMS to citizens who did not write by SMS, or None when no SMS
    provider is enabled. Raises ConfigurationError when SMS_REPLY_PROVIDER names one that is not."""
    enabled = [p for p in settings.check_providers() if p in SMS_PROVIDERS]
    chosen = settings.sms_reply_provider
    if chosen:
        if chosen not in enabled:
            names = ", ".join(enabled) or "none"
            raise ConfigurationError(f"SMS_REPLY_PROVIDER={chosen!r} is not an enabled SMS provider (enabled: {names})")
        return chosen
    return enabled[0] if enabled else None


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides for tests."""
    return Settings(**overrides)  # type: ignore[arg-type]
