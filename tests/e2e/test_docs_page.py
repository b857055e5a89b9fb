"""``/docs`` in real headless Chromium (Debian's ``/usr/bin/chromium``): Swagger UI renders
this server's OpenAPI document under the page's Content-Security-Policy, every request stays
on this server, and nothing fails or is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from yarl import URL

from tests.conftest import Server

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.slow

#: "METHOD path" of every operation in this server's OpenAPI document (same origin)
_OPERATIONS = """
fetch('/restapi/openapi.json').then(r => r.json()).then(d => Object.entries(d.paths).flatMap(
  ([path, ops]) => Object.keys(ops)
    .filter(m => ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'].includes(m))
    .map(m => `${m.toUpperCase()} ${path}`)))
"""
#: "METHOD path" of the operations Swagger UI has rendered now (it breaks long paths with
#: zero-width spaces)
_RENDERED = """
[...document.querySelectorAll('.opblock-summary')].map(s =>
  `${s.querySelector('.opblock-summary-method').textContent} ` +
  s.querySelector('.opblock-summary-path').textContent.replaceAll('\\u200b', ''))
"""
#: resolves after the browser has drawn twice (the sections scrolled into view are rendered)
_TWO_FRAMES = (
    "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"
)


def test_swagger_ui_renders_every_route_from_this_server_only(server: Server) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is not installed at /usr/bin/chromium: `make test` installs it")
    origin = URL(server.http).origin()
    requests: list[str] = []
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
            page.on("pageerror", lambda e: problems.append(f"error: {e}"))
            page.on(
                "console",
                lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
            )
            page.goto(server.http + "/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=30_000)
            expected = set(page.evaluate(_OPERATIONS))
            # Swagger UI renders only the tag sections near the viewport: walk the page
            seen: set[str] = set()
            top = 0
            while top <= page.evaluate("document.documentElement.scrollHeight"):
                page.evaluate("y => window.scrollTo(0, y)", top)
                page.wait_for_function(_TWO_FRAMES)
                seen |= set(page.evaluate(_RENDERED))
                top += 400
            paths = {op.split(" ", 1)[1] for op in seen}
            assert expected - seen == set(), "operations never rendered"
            call_log = page.get_by_text("/restapi/v1.0/account/{accountId}/call-log", exact=True)
            top = 0
            while call_log.count() == 0 and top <= page.evaluate(
                "document.documentElement.scrollHeight"
            ):
                page.evaluate("y => window.scrollTo(0, y)", top)
                page.wait_for_function(_TWO_FRAMES)
                top += 400
            call_log.first.click()
            page.wait_for_selector("text=dateFrom", timeout=10_000)
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "docs.png"))
        finally:
            browser.close()
    # Swagger UI breaks long paths with zero-width spaces
    paths = {p.replace("\u200b", "") for p in paths}
    assert "/restapi/v1.0/account/{accountId}/call-log" in paths
    assert "/restapi/oauth/token" in paths
    assert problems == []
    assert requests
    assert all(URL(u).origin() == origin for u in requests), requests
