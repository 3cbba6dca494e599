"""Helpers of the console's browser tests: the system Chromium driven by Playwright, signing in
with an operator account, screenshots into tests/artifacts/.

Import the ``browser`` fixture into a test module: ``from tests.web_browser.browser import
browser``."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.databases import services_required

ARTIFACTS = Path(__file__).parents[1] / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OPERATOR_PASSWORD = "a long console password 7"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if CHROMIUM is None:
        message = "Chromium is not installed: apt-get install chromium (.ci/run does)"
        if services_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        await browser.close()


async def console_page(browser: Any, base_url: str, *, language: str = "en") -> Any:
    """A new page with the console's language chosen and the browser's errors collected in
    ``page.errors`` (a page that throws fails the test that checks it)."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-GB")
    await context.add_init_script(f"localStorage.setItem('evcms.language', '{language}')")
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda msg: _console_error(page, msg))
    await page.goto(f"{base_url}/")
    return page


def _console_error(page: Any, message: Any) -> None:
    # an HTTP error answer is logged by Chromium too: the pages show those themselves
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        page.errors.append(message.text)


async def sign_in(page: Any, email: str, password: str = OPERATOR_PASSWORD) -> None:
    await page.fill("#signin-email", email)
    await page.fill("#signin-password", password)
    await page.click("#signin-button")
    await page.locator("#shell").wait_for()


async def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0
    return path
