"""Browser tests: the real app on a local server, driven by Debian's Chromium through Playwright.

* ``browser``: one headless Chromium per session. Without one the tests are skipped, or fail
  when ``PORTAL_REQUIRE_E2E=1`` (CI sets it).
* ``live_server``: the app (CSRF on) served by Werkzeug on 127.0.0.1, one per test.
* ``page`` / ``new_page``: a fresh browser context per page. Every request that leaves
  127.0.0.1 (the htmx CDN) is aborted, so the pinned copy in ``static/vendor`` is what runs.
  Console errors, uncaught exceptions and CSP violations fail the test, and so does any page
  the test navigated to without checking it with ``check_axe``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest
from flask import Flask

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here + os.sep):
            item.add_marker(pytest.mark.e2e)


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("PORTAL_REQUIRE_E2E") == "1":
        pytest.fail(f"{reason} (PORTAL_REQUIRE_E2E=1, so the browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = os.environ.get("PORTAL_CHROMIUM") or "/usr/bin/chromium"
    if not os.path.isfile(executable) or not os.access(executable, os.X_OK):
        _unavailable(f"no Chromium at {executable} (install Debian's chromium, or set PORTAL_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # pragma: no cover - the [test] extra installs it
        _unavailable(f"Playwright is not installed: {error}")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    except Exception as error:
        playwright.stop()
        _unavailable(f"Chromium at {executable} would not start: {error}")
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@dataclass
class LiveServer:
    url: str
    app: Flask


@pytest.fixture
def live_server(app_factory: Any) -> Iterator[LiveServer]:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass  # errors are still logged; one line per request would drown a failure's report

    app = app_factory(WTF_CSRF_ENABLED=True)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _without_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in ("http", "https") or parts.hostname in LOCAL_HOSTS


@dataclass
class PageWatch:
    """What happened in one page: messages and errors, pages seen and pages axe-checked."""

    aborted: list[str] = field(default_factory=list)
    refused_forms: set[str] = field(default_factory=set)
    console: list[tuple[str, str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)  # every main-frame navigation, in order
    checked: set[int] = field(default_factory=set)  # indexes into visited
    loading: bool = False  # a document request has started and not yet been committed
    twin: Callable[[], Any] | None = None  # for pages without JavaScript: a page that can run axe

    def problems(self) -> list[str]:
        found = [f"uncaught exception: {error}" for error in self.errors]
        for kind, text, url in self.console:
            if "Refused to" in text or "Content Security Policy" in text:
                found.append(f"CSP violation ({kind}): {text} ({url})")
            elif kind == "error" and not self._expected(text, url):
                found.append(f"console error: {text} ({url})")
        found += [
            f"page visited without an axe check: {url} (navigation {number + 1})"
            for number, url in enumerate(self.visited)
            if number not in self.checked
        ]
        return found

    def _expected(self, text: str, url: str) -> bool:
        # The CDN copy of htmx is blocked on purpose: that request's failure is expected.
        if text.startswith("Failed to load resource: net::") and url in self.aborted:
            return True
        # A form re-shown with its errors answers 422; Chromium logs that status for the page.
        return text.startswith(REFUSED_FORM_LOG) and url in self.refused_forms


REFUSED_FORM_LOG = "Failed to load resource: the server responded with a status of 422"
_watches: dict[Any, PageWatch] = {}


def watch_of(page: Any) -> PageWatch:
    return _watches[page]


@pytest.fixture
def new_page(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """``new_page(java_script_enabled=False)``: a page in a fresh context (cookies and all)."""
    contexts: list[Any] = []
    pages: list[Any] = []

    def make(*, java_script_enabled: bool = True) -> Any:
        context = browser.new_context(java_script_enabled=java_script_enabled, base_url=live_server.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        watch = PageWatch()
        if not java_script_enabled:
            watch.twin = lambda: _axe_twin(browser)

        def block(route: Any) -> None:
            watch.aborted.append(route.request.url)
            route.abort()

        context.route(lambda url: not _is_local(url), block)
        page = context.new_page()
        _watches[page] = watch
        pages.append(page)

        def on_console(message: Any) -> None:
            watch.console.append((message.type, message.text, (message.location or {}).get("url", "")))

        def on_response(response: Any) -> None:
            if response.status == 422 and response.request.resource_type == "document":
                watch.refused_forms.add(response.url)

        def on_request(request: Any) -> None:
            if request.is_navigation_request() and request.frame.parent_frame is None:
                watch.loading = True

        def on_navigated(frame: Any) -> None:
            # A new document is always a new visit; a change of URL in the same document
            # (hx-push-url) only when the URL is new, not htmx's replaceState of the same one.
            if frame.parent_frame is not None or not frame.url.startswith("http"):
                return
            url = _without_fragment(frame.url)
            if watch.loading or not watch.visited or watch.visited[-1] != url:
                watch.visited.append(url)
            watch.loading = False

        page.on("console", on_console)
        page.on("pageerror", lambda error: watch.errors.append(str(error)))
        page.on("request", on_request)
        page.on("response", on_response)
        page.on("framenavigated", on_navigated)
        return page

    yield make

    for context in contexts:
        context.close()
    failures = []
    for page in pages:
        failures += _watches.pop(page).problems()
    assert not failures, "\n".join(failures)


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    return new_page()


def _axe_twin(browser: Any) -> Any:
    """A page with JavaScript on (axe needs it) that loads no scripts of the site's own."""
    context = browser.new_context()
    context.route(lambda url: not _is_local(url), lambda route: route.abort())
    context.route("**/*.js", lambda route: route.abort())
    return context.new_page()


def _axe_target(page: Any, watch: PageWatch | None) -> tuple[Any, Callable[[], None]]:
    """Where to run axe: the page itself, or for a page without JavaScript (where Playwright
    cannot evaluate anything) a twin showing the same document with the same stylesheets."""
    if watch is None or watch.twin is None:
        return page, lambda: None
    html, url = page.content(), _without_fragment(page.url)
    twin = watch.twin()
    try:
        twin.route(
            lambda address: _without_fragment(address) == url,
            lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html),
        )
        twin.goto(url)
    except Exception:
        twin.context.close()
        raise
    return twin, twin.context.close


def check_axe(page: Any) -> None:
    """Run axe-core on the page as it is now; fail with every violation and where it is."""
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_load_state("load")
    watch = _watches.get(page)
    target, done = _axe_target(page, watch)
    try:
        violations = Axe().run(target).response["violations"]
    finally:
        done()
    details = [
        f"{v['id']} ({v['impact']}): {v['help']} [{v['helpUrl']}]\n"
        + "\n".join(
            f"    {', '.join(map(str, n['target']))}: {n['html']}\n      {n.get('failureSummary', '')}"
            for n in v["nodes"]
        )
        for v in violations
    ]
    assert not violations, f"axe found {len(violations)} violation(s) on {page.url}:\n" + "\n".join(details)
    if watch is not None and watch.visited and watch.visited[-1] == _without_fragment(page.url):
        watch.checked.add(len(watch.visited) - 1)
