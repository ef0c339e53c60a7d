"""The registry: every adapter listed once with its roles, built typed, and channels/ importing nothing above it."""

from __future__ import annotations

from typing import Any

import pytest

from channels import registry
from channels.email.imap_poller import ImapMailbox
from channels.email.smtp_server import SmtpIntake
from channels.registry import REGISTRY, Registration, build_adapters
from channels.web_form import WebForm
from config.settings import Settings
from tests.support.city import shipped_texts

EVERYTHING: dict[str, Any] = {
    "kannel_sendsms_url": "http://127.0.0.1:13013/cgi-bin/sendsms",
    "kannel_username": "intake",
    "kannel_password": "secret",
    "kannel_inbound_token": "inbound-secret",
    "smtp_host": "127.0.0.1",
    "mail_from": "lapor@bogorkota.go.id",
    "imap_host": "127.0.0.1",
    "imap_user": "lapor",
    "imap_password": "secret",
    "smtp_intake_port": 2525,
    "smtp_intake_domains": "bogorkota.go.id",
    "telegram_bot_token": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
    "telegram_mode": "poll",
}


def settings(**values: Any) -> Settings:
    """Settings without any .env, with ``values``."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_every_adapter_is_listed_once() -> None:
    """Web form, app, IMAP poller, SMTP server and e-mail replies are registry lines like every other channel."""
    names = [r.name for r in REGISTRY]
    assert len(names) == len(set(names))
    assert {"web", "app", "email", "imap", "smtp_intake", "kannel", "telegram", "x"} <= set(names)


def test_roles_are_sorted_out_for_the_callers() -> None:
    """Each caller gets the adapters of its role: webhooks with a path, enabled pollers, servers, senders, push."""
    adapters = build_adapters(settings(**EVERYTHING), texts=shipped_texts())
    assert set(adapters.webhooks) == {"kannel"}  # Telegram polls here, so it has no webhook route
    assert set(adapters.pollers) == {"imap", "telegram"}
    assert set(adapters.servers) == {"smtp_intake"}
    assert set(adapters.outbound) == {"kannel", "web", "email", "telegram", "app", "phone"}
    assert set(adapters.push) == {"app"}
    assert isinstance(adapters.pollers["imap"], ImapMailbox)
    assert isinstance(adapters.servers["smtp_intake"], SmtpIntake)
    assert adapters.named("web", WebForm) is adapters.outbound["web"]


def test_only_the_product_is_on_without_settings() -> None:
    """With no provider settings only the web form, the app and answering by phone exist; nothing polls or listens."""
    adapters = build_adapters(settings(), texts=shipped_texts())
    assert set(adapters) == {"web", "app", "phone"}
    assert not adapters.webhooks and not adapters.pollers and not adapters.servers


def test_named_lookup_checks_the_type() -> None:
    """Looking an adapter up by name fails loudly when it is off or not what the caller expects."""
    adapters = build_adapters(settings(), texts=shipped_texts())
    with pytest.raises(KeyError):
        adapters.named("telegram", WebForm)
    with pytest.raises(TypeError, match="not a ImapMailbox"):
        adapters.named("web", ImapMailbox)


def test_a_role_the_adapter_cannot_play_fails_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry line declaring a role whose methods the class lacks stops start-up, naming it."""
    wrong = Registration(name="web", target="channels.web_form:WebForm", roles=frozenset({"webhook"}))
    monkeypatch.setattr(registry, "REGISTRY", (wrong,))
    with pytest.raises(TypeError, match="WebForm is registered as webhook"):
        build_adapters(settings(), texts=shipped_texts())
