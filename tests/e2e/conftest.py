"""End-to-end fixtures: Debian's Chromium driven by Playwright against a real server.

Never downloads a browser: it uses STAGECOACH_CHROMIUM, else `chromium` (Debian's package) on
the PATH, and skips with a note when there is none (tests/tools.py: CI makes that a failure).
These tests run on SQLite only, to stay short.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dbs import SqliteTemplates
from tests.tools import require_tool
from tests.web.conftest import file_factory, live_server, live_services  # noqa: F401
from tests.web.live_server import LiveServer

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
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def db_url(sqlite_templates: SqliteTemplates) -> str:
    return sqlite_templates.new()


@pytest.fixture
def settings(make_settings: Any) -> Any:
    # a short poll interval so the polling fallback shows within the test
    return make_settings(poll_interval=1)


@pytest.fixture
def server(settings: Any, live_services: Any) -> Iterator[str]:  # noqa: F811
    """A real server with its embedded worker and the real pipelines; its URL."""
    from stagecoach.app import create_app

    app = create_app(settings, services=live_services, embedded_worker=True)
    with LiveServer(app) as s:
        yield s.url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    chromium = os.environ.get("STAGECOACH_CHROMIUM") or require_tool(
        "chromium", "chromium-browser", install="apt-get install chromium"
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    contexts = []

    def make(**options: Any) -> Any:
        options.setdefault("viewport", {"width": 1100, "height": 900})
        ctx = browser.new_context(**options)
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in_page(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
PHONE = {"width": 390, "height": 844}


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (the vendored copy, injected)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return list(
        page.evaluate(
            """() => axe.run(document, {resultTypes: ['violations']}).then(r =>
                 r.violations.map(v => ({id: v.id, help: v.help,
                   nodes: v.nodes.map(n => n.target.join(' '))})))"""
        )
    )


def assert_accessible(page: Any, state: str) -> None:
    found = axe_violations(page)
    assert found == [], f"axe found violations on {state}: {found}"


def horizontal_overflow(page: Any) -> int:
    """How many pixels the page is wider than its viewport (0: no sideways scrolling)."""
    return int(
        page.evaluate(
            "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - window.innerWidth"
        )
    )
