"""An operator in the staff console over plain HTTP: log in like a browser, read the health page's problems.

For end-to-end tests and ``scripts/outage_demo.py``: the problem list is read off ``/ops/health``
itself, exactly as an operator sees it, not rebuilt from the functions behind it.
"""

from __future__ import annotations

import html
import http.cookiejar
import re
import urllib.parse
import urllib.request

from complaints.accounts import Accounts
from workers.runtime import Runtime

_PROBLEM = re.compile(r'<li class="card problem severity-(\w+)" data-code="(\w+)">(.*?)</li>', re.S)
_TAGS = re.compile(r"<[^>]+>")


class OperatorBrowser:
    """A cookie-keeping HTTP client logged in to the console of the gateway at ``base_url``."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def log_in(self, email: str, password: str) -> OperatorBrowser:
        """Post the login form with its CSRF token, as a browser does."""
        form_page = self.get("/ops/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form_page)
        if token is None:
            raise AssertionError("the login page has no CSRF token")
        form = {"csrf_token": token.group(1), "lang": "en", "email": email, "password": password}
        self.opener.open(self.base_url + "/ops/login", data=urllib.parse.urlencode(form).encode(), timeout=10)
        return self

    def get(self, path: str) -> str:
        """A page's HTML, entities decoded."""
        with self.opener.open(self.base_url + path, timeout=30) as answer:
            return html.unescape(answer.read().decode())

    def health_problems(self, lang: str = "en") -> list[tuple[str, str]]:
        """The problems at the top of ``/ops/health`` as (code, the line the operator reads), in page order.

        An empty list means the page says all is well (its "Everything is running normally" card).
        """
        page = self.get(f"/ops/health?lang={lang}")
        section = page[page.index('id="h-problems"') : page.index('id="h-queues"')]
        return [(code, " ".join(_TAGS.sub("", text).split())) for _, code, text in _PROBLEM.findall(section)]

    def health_all_well(self, lang: str = "en") -> str | None:
        """The page's all-is-well line when it shows no problem, else None."""
        page = self.get(f"/ops/health?lang={lang}")
        found = re.search(r'<div class="card ok"><p>(.*?)</p></div>', page, re.S)
        return found.group(1).strip() if found else None


def add_operator(runtime: Runtime, email: str, password: str) -> None:
    """Create an operator account in the running system's database."""
    accounts = Accounts(sf=runtime.sf, read_sf=runtime.read_sf, opd_codes=frozenset(runtime.config.opds))
    accounts.create_user(email=email, name="Operator", role="operator", password=password)
