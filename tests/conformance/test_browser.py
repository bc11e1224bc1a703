"""The API pages in a real browser: Swagger UI's "Try it out" and Redoc, in Debian's headless Chromium.

Playwright (the Python package) drives ``/usr/bin/chromium``, which ``make install`` installs from
Debian's packages when it is missing; no browser is ever downloaded. A gateway serving gRPC and
HTTP runs one documented executor; the tests open ``/docs`` and ``/redoc`` from it, and every request
the pages make is recorded to show that nothing left the machine (no CDN, fonts or validator badge).

Every wait is bounded by ``WAIT_MS`` and waits for something on the page, never for a fixed time.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from docarray import BaseDoc, DocList
from playwright.sync_api import BrowserContext, Locator, Page, Playwright, Request, expect, sync_playwright
from pydantic import Field

from docwire import Executor, Flow, requests

#: The browser, Debian's package ``chromium`` (``make install``); DOCWIRE_CHROMIUM names another build.
CHROMIUM = Path(os.environ.get("DOCWIRE_CHROMIUM", "/usr/bin/chromium"))
#: Every flag Chromium is started with. Playwright adds ``--headless`` and ``--user-data-dir`` (a fresh,
#: empty folder per test) itself; the rest keep it off the network it would otherwise reach for at start.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Milliseconds any one step may take: loading a page and its megabyte-sized scripts, a click, a reply.
#: Generous for two shared cores, and still bounded.
WAIT_MS = 20_000
#: Hosts the pages may reach: the gateway's.
LOOPBACK = frozenset({"127.0.0.1"})


# The executor and its documents live here: worker processes import this module by name (PYTHONPATH).


class Review(BaseDoc):
    """A customer review to score."""

    text: str = Field("", description="The review's words, as the customer wrote them.")


class ScoredReview(BaseDoc):
    """A review with its verdict."""

    text: str = ""
    verdict: str = Field("", description="The review shouted back with its length in characters.")


class Scorer(Executor):
    """``/score``: each review's verdict is its text in capitals followed by its length."""

    @requests(on="/score")
    def score(self, docs: DocList[Review], **kwargs: object) -> DocList[ScoredReview]:
        return DocList[ScoredReview](
            ScoredReview(text=d.text, verdict=f"{d.text.upper()} ({len(d.text)})") for d in docs
        )


@pytest.fixture(scope="module")
def http_flow() -> Iterator[Flow]:
    """A gateway serving gRPC and HTTP in front of one Scorer."""
    with Flow(host="127.0.0.1", protocol=["grpc", "http"], port=[0, 0]).add(uses=Scorer, name="scorer") as flow:
        yield flow


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `make install` (it installs Debian's chromium)", pytrace=False)
    with sync_playwright() as driver:
        yield driver


class Browser:
    """One Chromium with a fresh profile, and every request its pages made."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.requests: list[Request] = []
        context.on("request", self._record)

    def _record(self, request: Request) -> None:
        self.requests.append(request)

    def open(self, url: str) -> Page:
        page = self.context.new_page()
        page.goto(url, wait_until="load")
        return page

    def sent_elsewhere(self, page: Page) -> list[str]:
        """The requests that went to another host than the gateway's, once the page's network is quiet.

        ``data:`` URLs load nothing, ``blob:`` ones are the page's own (Redoc's search worker). A
        request the browser refused itself under the page's Content-Security-Policy (Redoc's footer
        asks for its maker's logo on a CDN) never leaves the machine, so it is not counted.
        """
        page.wait_for_load_state("networkidle")
        elsewhere = []
        for request in self.requests:
            parts = urlsplit(request.url.removeprefix("blob:"))
            if parts.scheme == "data" or parts.hostname in LOOPBACK or request.failure == "csp":
                continue
            elsewhere.append(f"{request.method} {request.url} ({request.failure or 'sent'})")
        return elsewhere


@pytest.fixture
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[Browser]:
    context = playwright.chromium.launch_persistent_context(
        tmp_path / "profile",
        executable_path=CHROMIUM,
        headless=True,
        args=list(CHROMIUM_FLAGS),
        timeout=WAIT_MS,
    )
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    try:
        yield Browser(context)
    finally:
        context.close()


def _url(flow: Flow, path: str) -> str:
    return f"http://127.0.0.1:{flow.ports['http']}{path}"


def test_swagger_ui_try_it_out_shows_the_executors_reply(http_flow: Flow, browser: Browser) -> None:
    page = browser.open(_url(http_flow, "/docs"))
    operation = page.locator("#operations-default-Post_score")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("textarea.body-param__text").fill(json.dumps({"data": [{"text": "air-gapped docs"}]}))
    operation.get_by_role("button", name="Execute").click()

    result = operation.locator(".live-responses-table")
    body = result.locator(".response-col_description .highlight-code code")
    expect(body).to_contain_text("AIR-GAPPED DOCS (15)", timeout=WAIT_MS)
    expect(result.locator("tbody .response-col_status")).to_have_text("200", timeout=WAIT_MS)
    reply = json.loads(body.inner_text())
    assert [(d["text"], d["verdict"]) for d in reply["data"]] == [("air-gapped docs", "AIR-GAPPED DOCS (15)")]
    assert [r["executor"] for r in reply["routes"]] == ["gateway", "scorer"]
    assert [r.method for r in browser.requests if r.url == _url(http_flow, "/score")] == ["POST"]
    assert browser.sent_elsewhere(page) == []


def _documents_row(operation: Locator, model: str) -> Locator:
    """Redoc's row for a body's ``data`` field, an array of the executor's ``model`` documents."""
    return operation.get_by_role("row", name=re.compile(rf"^expand data Array of objects \({model}\)"))


def test_redoc_renders_the_endpoints_and_their_field_descriptions(http_flow: Flow, browser: Browser) -> None:
    page = browser.open(_url(http_flow, "/redoc"))
    expect(page.locator(".api-info h1")).to_contain_text("docwire Flow", timeout=WAIT_MS)
    expect(page.get_by_role("menuitem", name="Post /score")).to_be_visible(timeout=WAIT_MS)
    operation = page.locator("[data-section-id='operation/Post_score']").first
    expect(operation.locator("h2")).to_have_text("Post /score", timeout=WAIT_MS)

    # The request's documents, then the reply's (its 200 response opened first), as a reader unfolds them.
    _documents_row(operation, "Review").get_by_role("button", name="expand data").click()
    expect(operation).to_contain_text("The review's words, as the customer wrote them.", timeout=WAIT_MS)
    operation.get_by_role("button", name=re.compile(r"^200\b")).click()
    _documents_row(operation, "ScoredReview").get_by_role("button", name="expand data").click()
    expect(operation).to_contain_text("The review shouted back with its length in characters.", timeout=WAIT_MS)
    assert browser.sent_elsewhere(page) == []
