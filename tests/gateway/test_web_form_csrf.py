"""The citizen web form refuses forged and cross-site posts (issue 12): 403 with a clear page, nothing stored."""

from __future__ import annotations

import pytest

from gateway.pages.strings import STRINGS
from tests.gateway import test_pages
from tests.gateway.test_pages import Site

site = test_pages.site  # the citizen site fixture (SQLite, no workers)

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ],
)
async def test_a_post_from_another_site_is_refused(site: Site, headers: dict[str, str]) -> None:
    """Another site's page posting the form (even with a token it somehow got) is a 403 saying why."""
    submission_id = await site.new_form()
    site.client.session.headers.update(headers)
    resp = await site.submit(submission_id)
    assert resp.status == 403
    assert STRINGS["id"]["error_403_cross_site"] in await resp.text()
    assert site.inbox_count() == 0


async def test_a_post_without_the_forms_token_is_refused(site: Site) -> None:
    """A post that never loaded the form (no cookie, no token) is a 403 asking to open the form again."""
    await site.new_form()
    site.client.session.cookie_jar.clear()
    resp = await site.submit("a" * 22)
    assert resp.status == 403
    assert STRINGS["id"]["error_403_expired"] in await resp.text()
    assert site.inbox_count() == 0


async def test_a_token_that_is_not_this_browsers_is_refused(site: Site) -> None:
    """The field must equal this browser's cookie: a token copied from another visitor's form does not pass."""
    submission_id = await site.new_form()
    site.csrf_token = "x" * 43
    resp = await site.submit(submission_id)
    assert resp.status == 403
    assert site.inbox_count() == 0


async def test_a_same_origin_post_with_its_token_is_accepted(site: Site) -> None:
    """What a browser sends from our own page (Sec-Fetch-Site and Origin of this site) is accepted."""
    submission_id = await site.new_form()
    origin = str(site.client.make_url("/")).rstrip("/")
    site.client.session.headers.update({"Sec-Fetch-Site": "same-origin", "Origin": origin})
    resp = await site.submit(submission_id)
    assert resp.status == 303, await resp.text()
    assert site.inbox_count() == 1


async def test_the_token_cookie_is_for_the_form_only_and_hidden_from_scripts(site: Site) -> None:
    """The form sets its token cookie HttpOnly, SameSite=Strict, for /lapor."""
    resp = await site.client.get("/lapor")
    cookie = resp.cookies["lapor_csrf"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/lapor"
