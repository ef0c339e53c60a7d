"""Staff-console tests in Debian's Chromium: the settings, the staff account, the browser and the login.

The browser end-to-end tests all start the same way: a system without Redis or PostgreSQL, one
staff account, Chromium launched from ``/usr/bin/chromium`` and the login form filled in by
keyboard. Only what each test then does on the console differs, so only that stays in the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from complaints.accounts import Accounts
from config.settings import Settings
from gateway.console.strings import STRINGS
from workers.runtime import Runtime

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ID = STRINGS["id"]


def require_chromium() -> None:
    """Fail (never skip) the test when Debian's Chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.fail("install Debian chromium: apt-get install -y chromium", pytrace=False)


def console_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for an embedded system under ``tmp_path``: SQLite, no Redis, one worker thread, any .env ignored."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "host": "127.0.0.1",
        "port": 0,
        "redis_url": None,
        "database_url": None,
        "worker_threads": 1,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def add_staff(runtime: Runtime, email: str, name: str, role: str, password: str, opd_code: str | None = None) -> Any:
    """Create a staff account in the running system's database; returns the new user."""
    accounts = Accounts(sf=runtime.sf, read_sf=runtime.read_sf, opd_codes=frozenset(runtime.config.opds))
    if opd_code is None:
        return accounts.create_user(email=email, name=name, role=role, password=password)
    return accounts.create_user(email=email, name=name, role=role, opd_code=opd_code, password=password)


@contextmanager
def chromium(pw: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless, closed when the block ends (also when an assertion failed)."""
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


def log_in(page: Page, base_url: str, email: str, password: str, lands_on: str = "/ops/") -> None:
    """Fill the console's login form, submit it from the password field by keyboard, wait for ``lands_on``."""
    page.goto(f"{base_url}/ops/login")
    page.get_by_label(ID["label_email"]).fill(email)
    page.get_by_label(ID["label_password"]).fill(password)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}{lands_on}")


@contextmanager
def console_page(
    pw: Playwright, base_url: str, email: str, password: str, height: int = 700, **page_options: Any
) -> Iterator[Page]:
    """A 1024 px wide Chromium page logged in to the console as ``email``, on the inbox (``/ops/``)."""
    with chromium(pw) as browser:
        page = browser.new_page(viewport={"width": 1024, "height": height}, **page_options)
        log_in(page, base_url, email, password)
        yield page
