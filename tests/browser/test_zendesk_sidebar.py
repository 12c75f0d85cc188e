"""The Zendesk ticket sidebar in Chromium, inside a stand-in for Zendesk's app framework.

The stand-in is served in place of Zendesk's SDK (`page.route` on its CDN URL): its client
answers `get` with a scripted ticket and requester, and its `request` goes out of the page to
Python, which plays Zendesk's proxy: it refuses anything but a secure request to the app's
domain, fills `{{setting.api_key}}` with the key and calls the running service. So the page is
tested as Zendesk runs it: it never holds the key, and its CSP lets it connect nowhere itself.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route

from service.sidebar.routes import ZAF_SDK_URL
from tests.browser.conftest import API_KEY, ARTIFACTS, INGEST_KEY, Service, wait_for
from tests.processes import run_cli
from tests.recordings import batch, click, console_error, meta, mutation, page_event

pytestmark = pytest.mark.browser

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
TICKET_ID = 4711
# The requester's e-mail holds the site's user ID; the external ID names nobody recorded, so
# the sidebar must try it, find nothing, and go on to the e-mail (external ID comes first).
EMAIL = "jane.sidebar@shop.test"
NOBODY = "ext-no-sessions"
FIREFOX = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:133.0) Gecko/20100101 Firefox/133.0"

# The stand-in for Zendesk's SDK. `__zafProxy` is a Playwright binding: a call into the test
# process, not a network request, as Zendesk's own proxy is a message to the Zendesk page.
FAKE_SDK = """
window.__resizes = [];
window.ZAFClient = {
  init() {
    const scripted = %(scripted)s;
    return {
      get: async (paths) => {
        const answer = { errors: {} };
        for (const path of paths) answer[path] = scripted.ticket[path];
        return answer;
      },
      metadata: async () => ({ settings: scripted.settings }),
      request: async (options) => {
        const answer = JSON.parse(await window.__zafProxy(JSON.stringify(options)));
        if (answer.status >= 200 && answer.status < 300) return JSON.parse(answer.body);
        throw { status: answer.status, responseText: answer.body };
      },
      invoke: async (name, ...args) => { window.__resizes.push([name, ...args]); },
    };
  },
};
"""


class Proxy:
    """Zendesk's request proxy: secure requests to the whitelisted domain, key filled in."""

    def __init__(self, service: Service, key: str) -> None:
        self.service = service
        self.key = key
        self.requests: list[dict[str, Any]] = []

    def __call__(self, raw: str) -> str:
        options = json.loads(raw)
        self.requests.append(options)
        if not options.get("secure") or urlsplit(options["url"]).hostname != "127.0.0.1":
            return json.dumps({"status": 403, "body": '{"detail": "proxy: not allowed"}'})
        headers = {
            name: value.replace("{{setting.api_key}}", self.key)
            for name, value in options.get("headers", {}).items()
        }
        if options.get("contentType"):
            headers["Content-Type"] = options["contentType"]
        response = httpx.request(
            options["type"],
            options["url"],
            headers=headers,
            content=options.get("data"),
            timeout=10,
        )
        return json.dumps({"status": response.status_code, "body": response.text})


def ingest(
    service: Service, session_id: str, user_id: str, events: list[dict[str, Any]], *, ended: bool
) -> None:
    """Record a session; one not `ended` is still recording (no final batch yet)."""
    extra = {"final": True} if ended else {}
    response = httpx.post(
        f"{service.base}/api/v1/ingest",
        content=msgspec.json.encode(batch(session_id, 0, events, user_id=user_id, **extra)),
        headers={"X-ReplayDesk-Key": INGEST_KEY, "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 202, response.text


def visit(start: int, minutes: int, *, errors: int = 0, rage: bool = False) -> list[dict[str, Any]]:
    """A visit of `minutes` from `start` (ms) on Firefox on macOS."""
    events = [
        meta(start, "https://shop.test/cart"),
        page_event(start + 5, url="https://shop.test/cart", userAgent=FIREFOX),
        mutation(start + 10),
    ]
    events += [console_error(start + 1000 + i, f"TypeError: failure {i}") for i in range(errors)]
    if rage:
        events += [click(start + 2000 + i * 150) for i in range(4)]
    events.append(meta(start + minutes * MINUTE, "https://shop.test/checkout"))
    return events


class Recorded:
    """Three sessions of the requester: three days ago, during the ticket (yesterday), and one
    still recording; the ticket was opened in the middle of yesterday's."""

    def __init__(self, service: Service) -> None:
        now = int(time.time() * 1000)
        self.old, self.ticket_session, self.live = (
            "sess-zd-old-01",
            "sess-zd-tkt-01",
            "sess-zd-live-1",
        )
        ingest(service, self.old, EMAIL, visit(now - 3 * DAY, 2), ended=True)
        ingest(
            service,
            self.ticket_session,
            EMAIL,
            visit(now - DAY, 6, errors=2, rage=True),
            ended=True,
        )
        ingest(service, self.live, EMAIL, visit(now - 2 * MINUTE, 1), ended=False)
        self.ticket_created = now - DAY + 3 * MINUTE


@pytest.fixture(scope="module")
def recorded(service: Service) -> Recorded:
    return Recorded(service)


def api_key(service: Service, *scopes: str) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "REPLAYDESK_DATA_DIR": str(service.data_dir),
        "REPLAYDESK_API_KEYS": API_KEY,
        "REPLAYDESK_INGEST_KEYS": INGEST_KEY,
    }
    created = run_cli(
        env,
        "keys",
        "create",
        "api",
        "--name",
        "zendesk sidebar",
        *(arg for scope in scopes for arg in ("--scope", scope)),
    )
    assert created.returncode == 0, created.stderr
    match = re.search(r"API key \S+: (\S+)", created.stdout)
    assert match, created.stdout
    return match.group(1)


@pytest.fixture(scope="module")
def sidebar_key(service: Service) -> str:
    """What the admin pastes into the app: a key that lists sessions and mints links."""
    return api_key(service, "sessions:read", "links:create")


@pytest.fixture
def sidebar_context(browser: Browser) -> Iterator[BrowserContext]:
    """A browser the width of Zendesk's ticket sidebar."""
    context = browser.new_context(viewport={"width": 320, "height": 720})
    yield context
    context.close()


def open_sidebar(
    context: BrowserContext,
    service: Service,
    key: str,
    *,
    created_at: int | None,
    external_id: str | None = NOBODY,
    email: str | None = EMAIL,
    settings: dict[str, Any] | None = None,
) -> tuple[Page, Proxy]:
    page = context.new_page()
    proxy = Proxy(service, key)
    page.expose_function("__zafProxy", proxy)
    scripted = {
        "ticket": {
            "ticket.id": TICKET_ID,
            "ticket.createdAt": (
                None
                if created_at is None
                else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created_at / 1000))
            ),
            "ticket.requester.externalId": external_id,
            "ticket.requester.email": email,
        },
        "settings": {"replaydesk_url": service.base, "user_lookup": None, **(settings or {})},
    }

    def fake_sdk(route: Route) -> None:
        route.fulfill(
            status=200,
            content_type="text/javascript",
            body=FAKE_SDK % {"scripted": json.dumps(scripted)},
        )

    page.route(ZAF_SDK_URL, fake_sdk)
    # Zendesk opens the app's URL with its origin and the app's id in the query.
    page.goto(f"{service.base}/zendesk/sidebar?origin=https%3A%2F%2Facme.zendesk.com&app_guid=g1")
    return page, proxy


def test_the_requesters_sessions_are_listed_nearest_the_ticket_first_and_watch_opens_a_ticket_link(
    sidebar_context: BrowserContext, service: Service, recorded: Recorded, sidebar_key: str
) -> None:
    page, proxy = open_sidebar(
        sidebar_context, service, sidebar_key, created_at=recorded.ticket_created
    )
    rows = page.get_by_test_id("session")
    rows.first.wait_for()
    assert rows.count() == 3
    ids = [rows.nth(i).get_attribute("data-session-id") for i in range(3)]
    # Yesterday's session was running when the ticket was opened: first, though not newest;
    # the others follow newest first.
    assert ids == [recorded.ticket_session, recorded.live, recorded.old]
    first = rows.first
    assert first.get_by_test_id("nearest").inner_text() == "Nearest the ticket"
    assert rows.nth(1).get_by_test_id("nearest").count() == 0
    assert "2 errors" in first.inner_text() and "1 rage click" in first.inner_text()
    assert "Firefox 133 · Mac OS X 14.5" in first.inner_text()
    assert page.get_by_test_id("requester").inner_text() == f"e-mail: {EMAIL}"
    # Only the session still recording offers to watch it live.
    assert rows.nth(1).get_by_test_id("watch-live").is_visible()
    assert first.get_by_test_id("watch-live").count() == 0
    # The frame was fitted to the content.
    resizes = wait_for(lambda: page.evaluate("window.__resizes"), what="a resize", page=page)
    assert resizes[-1][0] == "resize" and resizes[-1][1]["height"].endswith("px")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "zendesk-sidebar.png"), full_page=True)

    with sidebar_context.expect_page() as opened:
        first.get_by_role("button", name=re.compile("^Watch: ")).click()
    replay = opened.value
    # The replay page takes the token out of the address once it has read it.
    replay.wait_for_url(f"{service.base}/replay/{recorded.ticket_session}*")

    def viewed_under_the_ticket() -> list[dict[str, Any]]:
        uses: list[dict[str, Any]] = service.get(
            f"/api/v1/sessions/{recorded.ticket_session}/views"
        ).json()["uses"]
        return [use for use in uses if use["ticket"] == f"zendesk:{TICKET_ID}"]

    assert wait_for(viewed_under_the_ticket, what="the view audited under the ticket")

    # Every call went through the proxy as a secure request, the key as a placeholder only:
    # the user lookup tried the external ID first, then the e-mail, then minted the link.
    assert [(r["type"], urlsplit(r["url"]).path) for r in proxy.requests] == [
        ("GET", f"/api/v1/users/{NOBODY}/sessions"),
        ("GET", f"/api/v1/users/{EMAIL.replace('@', '%40')}/sessions"),
        ("POST", f"/api/v1/sessions/{recorded.ticket_session}/links"),
    ]
    for request in proxy.requests:
        assert request["secure"] is True
        assert request["headers"] == {"Authorization": "Bearer {{setting.api_key}}"}
    minted = json.loads(proxy.requests[-1]["data"])
    assert minted == {"ttl_seconds": 900, "ticket": f"zendesk:{TICKET_ID}"}
    assert sidebar_key not in page.content()


def test_watch_live_opens_a_ticket_bound_live_link(
    sidebar_context: BrowserContext, service: Service, recorded: Recorded, sidebar_key: str
) -> None:
    page, proxy = open_sidebar(
        sidebar_context, service, sidebar_key, created_at=recorded.ticket_created
    )
    live_row = page.locator(f'[data-session-id="{recorded.live}"]')
    with sidebar_context.expect_page() as opened:
        live_row.get_by_test_id("watch-live").click()
    opened.value.wait_for_url(f"{service.base}/replay/{recorded.live}?live=1*")
    assert json.loads(proxy.requests[-1]["data"]) == {
        "ttl_seconds": 900,
        "ticket": f"zendesk:{TICKET_ID}",
        "live": True,
    }
    # The live page follows the session: it says so once it has caught up.
    live_status = opened.value.get_by_test_id("live-status")
    live_status.and_(opened.value.locator("[data-state=live]")).wait_for(timeout=15_000)


def test_a_key_without_links_create_lists_sessions_and_says_which_scope_watch_needs(
    sidebar_context: BrowserContext, service: Service, recorded: Recorded
) -> None:
    read_only = api_key(service, "sessions:read")
    page, _ = open_sidebar(sidebar_context, service, read_only, created_at=recorded.ticket_created)
    first = page.get_by_test_id("session").first
    first.wait_for()
    first.get_by_test_id("watch").click()
    notice = first.get_by_test_id("row-notice")
    notice.wait_for()
    assert "lacks the scope links:create" in notice.inner_text()
    assert notice.get_attribute("role") == "alert"
    # The list stays: the agent still sees the sessions.
    assert page.get_by_test_id("session").count() == 3


def test_a_key_without_sessions_read_says_so(
    sidebar_context: BrowserContext, service: Service, recorded: Recorded
) -> None:
    links_only = api_key(service, "links:create")
    page, _ = open_sidebar(sidebar_context, service, links_only, created_at=recorded.ticket_created)
    problem = page.get_by_test_id("problem")
    problem.wait_for()
    assert "lacks the scope sessions:read" in problem.inner_text()


def test_an_unknown_key_is_called_not_valid(
    sidebar_context: BrowserContext, service: Service, recorded: Recorded
) -> None:
    page, _ = open_sidebar(
        sidebar_context, service, "not-a-replaydesk-key", created_at=recorded.ticket_created
    )
    problem = page.get_by_test_id("problem")
    problem.wait_for()
    assert "API key is not valid" in problem.inner_text()


def test_a_requester_without_sessions_gets_the_empty_state(
    sidebar_context: BrowserContext, service: Service, recorded: Recorded, sidebar_key: str
) -> None:
    page, proxy = open_sidebar(
        sidebar_context,
        service,
        sidebar_key,
        created_at=recorded.ticket_created,
        external_id="ext-nobody-else",
        email="nobody@shop.test",
    )
    empty = page.get_by_test_id("empty")
    empty.wait_for()
    assert "No sessions recorded for this requester" in empty.inner_text()
    assert "external ID ext-nobody-else, then e-mail nobody@shop.test" in empty.inner_text()
    assert len(proxy.requests) == 2


def test_the_apps_lookup_setting_puts_the_email_first(
    sidebar_context: BrowserContext, service: Service, recorded: Recorded, sidebar_key: str
) -> None:
    page, proxy = open_sidebar(
        sidebar_context,
        service,
        sidebar_key,
        created_at=recorded.ticket_created,
        settings={"user_lookup": "email,external_id"},
    )
    page.get_by_test_id("session").first.wait_for()
    assert [urlsplit(r["url"]).path for r in proxy.requests] == [
        f"/api/v1/users/{EMAIL.replace('@', '%40')}/sessions"
    ]
