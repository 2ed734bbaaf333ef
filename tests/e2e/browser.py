"""Playwright fixtures and helpers for the browser tests: Debian's chromium, a Collab server with
cookies usable over plain http, signing in through the real login page, reading the editor.

Test modules import the fixtures they use (`from tests.e2e.browser import browser, server`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.server import ROOT

CHROMIUM = os.environ.get("COLLAB_TEST_CHROMIUM", "/usr/bin/chromium")
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
MANIFEST = ROOT / "frontend" / "dist" / ".vite" / "manifest.json"
PASSWORD = "pw-secret-123"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser():
    """One chromium per test module; every test opens its own contexts (its own cookies)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: apt-get install chromium", pytrace=False)
    if not MANIFEST.exists():
        pytest.fail(f"{MANIFEST} is missing: build the frontend (`make frontend`)", pytrace=False)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running on this thread, which makes Django
    # refuse ORM calls (SynchronousOnlyOperation); the tests' ORM calls really are synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def server(servers):
    """`manage.py serve` on the test database; cookies not marked Secure (tests use http)."""
    return servers.start(COLLAB_SECURE_COOKIES="0")


@pytest.fixture
def open_contexts(browser):
    """Makes browser contexts (one per person) and closes them after the test. A script error in
    any page, or a message the y-websocket provider could not handle, fails the test."""
    contexts = []
    problems = []

    def watch(page):
        page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(f"{page.url}: console: {message.text}")
                if "Unable to compute message" in message.text
                else None
            ),
        )

    def new_context(**options):
        context = browser.new_context(**{"viewport": {"width": 1100, "height": 800}, **options})
        context.set_default_timeout(TIMEOUT_MS)
        context.on("page", watch)
        contexts.append(context)
        return context

    yield new_context
    for context in contexts:
        context.close()
    assert not problems, "\n".join(problems)


def sign_in(context, server, username: str, password: str = PASSWORD):
    """Signs in through /accounts/login/ and returns the page, now on the documents list."""
    page = context.new_page()
    page.goto(server.http + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(server.http + "/")
    return page


def editors(open_contexts, server, document_id, *usernames: str) -> list:
    """Each user signed in, in a browser context of their own, with the document's editor open."""
    pages = [sign_in(open_contexts(), server, username) for username in usernames]
    for page in pages:
        open_editor(page, server, document_id)
    return pages


def open_editor(page, server, document_id) -> None:
    """Opens /d/<id> and waits until the document arrived from the server."""
    page.goto(f"{server.http}/d/{document_id}")
    page.wait_for_function("window.collab && window.collab.provider.synced")


def editor_text(page) -> str:
    """The document's text as the editor holds it (not the carets' name labels)."""
    return page.evaluate("window.collab.editor.getText()")


def wait_for_text(page, *fragments: str) -> None:
    """Waits until the editor's text contains every fragment."""
    page.wait_for_function(
        "(fragments) => fragments.every((f) => window.collab.editor.getText().includes(f))",
        arg=list(fragments),
    )


def type_at_end(page, text: str) -> None:
    """Puts the cursor at the end of the document and types, as a person would."""
    page.locator("[data-testid=editor]").click()
    page.wait_for_function("window.collab.editor.view.hasFocus()")
    # With the view focused, focus('end') moves the selection at once (else after a frame).
    page.evaluate("window.collab.editor.commands.focus('end')")
    page.keyboard.type(text)
