"""The explicit list of channel adapters and the roles each plays. A new channel is one module plus one line here.

Every adapter is listed, the ones with their own pages (web form, app API) and the e-mail
intake (IMAP poller, SMTP server) included, so no caller wires an adapter by hand. Each line
names the roles the adapter plays (the protocols of ``channels/base.py``); the roles are
checked when the adapter is built, and :class:`Adapters` hands each caller the adapters of
one role, typed, so nothing probes an adapter with ``getattr``/``hasattr``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from channels.base import (
    OutboundAdapter,
    PollingAdapter,
    PushAdapter,
    ReplyTexts,
    ServerAdapter,
    WebhookAdapter,
)
from config.settings import Settings

Role = Literal["webhook", "polling", "server", "outbound", "push"]

ROLE_PROTOCOLS: dict[Role, type] = {
    "webhook": WebhookAdapter,
    "polling": PollingAdapter,
    "server": ServerAdapter,
    "outbound": OutboundAdapter,
    "push": PushAdapter,
}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Registration:
    """One adapter: its name, where its class lives, the roles it plays and what switches it on."""

    name: str
    """Registry name: the provider name replies are addressed to (``OutboundReply.provider``)."""
    target: str
    """``module:Class``, imported lazily so a provider's library loads only when it is switched on."""
    roles: frozenset[Role]
    provider: str | None = None
    """The settings provider (config/settings.py PROVIDER_VARIABLES) that enables it; None: always on."""
    texts: bool = False
    """The adapter writes text of its own from the city's reply templates (passed in as ``texts=``)."""


def _line(name: str, target: str, *roles: Role, provider: str | None = "", texts: bool = False) -> Registration:
    return Registration(
        name=name, target=target, roles=frozenset(roles), provider=name if provider == "" else provider, texts=texts
    )


REGISTRY: tuple[Registration, ...] = (
    _line("kannel", "channels.sms.kannel:KannelSms", "webhook", "outbound"),
    _line("twilio", "channels.sms.twilio:TwilioSms", "webhook", "outbound"),
    _line("android_sms", "channels.sms.android_gateway:AndroidSmsGateway", "webhook", "outbound"),
    # The web form is part of the product: the citizen pages (gateway/pages) parse its posts.
    _line("web", "channels.web_form:WebForm", "outbound", provider=None),
    _line("email", "channels.email.sender:EmailSender", "outbound"),
    _line("imap", "channels.email.imap_poller:ImapMailbox", "polling"),
    _line("smtp_intake", "channels.email.smtp_server:SmtpIntake", "server"),
    _line("telegram", "channels.telegram:TelegramChannel", "webhook", "polling", "outbound"),
    _line("x", "channels.x:XChannel", "webhook", "polling", "outbound", texts=True),
    _line("whatsapp", "channels.whatsapp:WhatsAppChannel", "webhook", "outbound"),
    # The Android app is part of the product too: gateway/app_api serves its JSON API.
    _line("app", "channels.android_app:AndroidApp", "outbound", "push", provider=None),
    # part-manual: complaints by telephone and from newspapers are typed in on the console
    # (gateway/console/manual.py parses them with channels.manual_entry); a citizen answered
    # by telephone has this do-nothing sender, so the reply is kept for the operator to read out.
    _line("phone", "channels.manual_entry:PhoneAnswer", "outbound", provider=None),
)


def _load(target: str) -> Callable[..., Any]:
    module_name, _, class_name = target.partition(":")
    module = __import__(module_name, fromlist=[class_name])
    return getattr(module, class_name)


def enabled_registrations(settings: Settings) -> list[Registration]:
    """Adapters switched on by the settings (raises ConfigurationError if a provider is half configured)."""
    configured = set(settings.check_providers())
    return [r for r in REGISTRY if r.provider is None or r.provider in configured]


@dataclass(frozen=True)
class Adapters:
    """The enabled adapters of one process, by role; each mapping is keyed by registry name."""

    by_name: Mapping[str, object] = field(default_factory=dict)
    webhooks: Mapping[str, WebhookAdapter] = field(default_factory=dict)
    """Adapters whose webhook is switched on (``path`` set)."""
    pollers: Mapping[str, PollingAdapter] = field(default_factory=dict)
    """Adapters whose settings ask for polling."""
    servers: Mapping[str, ServerAdapter] = field(default_factory=dict)
    outbound: Mapping[str, OutboundAdapter] = field(default_factory=dict)
    push: Mapping[str, PushAdapter] = field(default_factory=dict)

    def named(self, name: str, kind: type[T]) -> T:
        """The adapter registered as ``name``, typed as ``kind``.

        Raises KeyError when it is not enabled, TypeError when it is not a ``kind``.
        """
        adapter = self.by_name[name]
        if not isinstance(adapter, kind):
            raise TypeError(f"adapter {name!r} is a {type(adapter).__name__}, not a {kind.__name__}")
        return adapter

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_name)


def build_adapters(settings: Settings, *, texts: ReplyTexts) -> Adapters:
    """Instantiate every enabled adapter and sort it into its roles.

    ``texts`` renders the city's reply templates for adapters that write text themselves (X's
    public replies). Raises ConfigurationError for unusable settings and TypeError when an
    adapter lacks a method of a role its registry line declares.
    """
    by_name: dict[str, object] = {}
    roles: dict[Role, dict[str, Any]] = {role: {} for role in ROLE_PROTOCOLS}
    for registration in enabled_registrations(settings):
        factory = _load(registration.target)
        adapter = factory(settings, texts=texts) if registration.texts else factory(settings)
        by_name[registration.name] = adapter
        for role in registration.roles:
            if not isinstance(adapter, ROLE_PROTOCOLS[role]):
                raise TypeError(f"{registration.target} is registered as {role} but lacks that role's methods")
            roles[role][registration.name] = adapter
    return Adapters(
        by_name=by_name,
        webhooks={name: a for name, a in roles["webhook"].items() if a.path},
        pollers={name: a for name, a in roles["polling"].items() if a.polling_enabled()},
        servers=roles["server"],
        outbound=roles["outbound"],
        push=roles["push"],
    )
