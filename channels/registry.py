"""The explicit list of channel adapters. A new channel is one module plus one line here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from config.settings import Settings

# provider name -> "module:Class", enabled by that provider's settings (config/settings.py).
# Imported lazily so a provider's library is loaded only when that provider is switched on.
ADAPTERS: dict[str, str] = {
    "kannel": "channels.sms.kannel:KannelSms",
    "twilio": "channels.sms.twilio:TwilioSms",
    "android_sms": "channels.sms.android_gateway:AndroidSmsGateway",
    "web": "channels.web_form:WebForm",
    "email": "channels.email.sender:EmailSender",
    "telegram": "channels.telegram:TelegramChannel",
    "x": "channels.x:XChannel",
    "whatsapp": "channels.whatsapp:WhatsAppChannel",
    "app": "channels.android_app:AndroidApp",
}

# Providers that need no settings: they are part of the product itself.
ALWAYS_ON = frozenset({"web", "app"})


def _load(target: str) -> Callable[[Settings], Any]:
    module_name, _, class_name = target.partition(":")
    module = __import__(module_name, fromlist=[class_name])
    return getattr(module, class_name)  # type: ignore[no-any-return]


def enabled_providers(settings: Settings) -> list[str]:
    """Providers switched on by the settings (raises ConfigurationError if half configured)."""
    configured = set(settings.check_providers())
    return [name for name in ADAPTERS if name in ALWAYS_ON or name in configured]


def build_adapters(settings: Settings) -> dict[str, Any]:
    """Instantiate every enabled adapter, keyed by provider name."""
    return {name: _load(ADAPTERS[name])(settings) for name in enabled_providers(settings)}
