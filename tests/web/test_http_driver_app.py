"""The driver app's pages at /app: served from the package with a strict CSP, nothing from other
origins, and its texts in every language evcms ships (GET /app/i18n/{language}.json)."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po
from web_harness import Web

import evcms.web

APP_DIR = Path(evcms.web.__file__).parent / "static" / "app"
CATALOGUE = Path(evcms.web.__file__).parents[1] / "locale" / "bg" / "LC_MESSAGES" / "app.po"
# t("...") calls of the scripts: the English texts (message ids) the app shows
T_CALL = re.compile(r'\bt\(\s*"((?:[^"\\]|\\.)*)"')
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def used_texts() -> set[str]:
    found: set[str] = set()
    for script in APP_DIR.glob("*.js"):
        found.update(T_CALL.findall(script.read_text(encoding="utf-8")))
    return found


async def test_the_app_page_is_served_with_a_strict_csp(web: Web) -> None:
    page = await web.client.get("/app")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/app/static/app.js">' in page.text
    # the pages mailed links open are the same app
    for path in ("/app/", "/app/verify-email?token=abc", "/app/reset-password?token=abc"):
        same = await web.client.get(path)
        assert same.status_code == 200 and same.text == page.text, path


async def test_every_file_the_page_loads_is_served_from_the_package(web: Web) -> None:
    page = (await web.client.get("/app")).text
    wanted = set(re.findall(r'(?:src|href)="(/app/static/[^"]+)"', page))
    for script in APP_DIR.glob("*.js"):
        wanted.update(
            f"/app/static/{name}"
            for name in re.findall(r'from "\./([\w.-]+)"', script.read_text(encoding="utf-8"))
        )
    assert {
        "/app/static/app.js",
        "/app/static/api.js",
        "/app/static/i18n.js",
        "/app/static/app.css",
    } <= wanted
    for path in wanted:
        answer = await web.client.get(path)
        assert answer.status_code == 200, path
        kind = answer.headers["content-type"]
        if path.endswith(".js"):
            assert kind.startswith("text/javascript"), path
        if path.endswith(".css"):
            assert kind.startswith("text/css"), path


async def test_nothing_comes_from_another_origin() -> None:
    for file in APP_DIR.iterdir():
        text = file.read_text(encoding="utf-8").replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert not re.search(r"https?://|//cdn|@import", text), file.name


async def test_an_unknown_file_is_404_with_a_message(web: Web) -> None:
    for path in ("/app/static/nothing.js", "/app/static/index.html"):
        answer = await web.client.get(path)
        assert answer.status_code == 404, path
        assert "the driver app has no file" in answer.json()["detail"]
    outside = await web.client.get("/app/static/..%2F..%2Fconsole.html")
    assert outside.status_code == 404


async def test_english_texts_are_the_identity(web: Web) -> None:
    answer = await web.client.get("/app/i18n/en.json")
    assert answer.status_code == 200
    assert answer.json() == {"language": "en", "messages": {}}
    assert "max-age" in answer.headers["cache-control"]


async def test_bulgarian_texts_come_from_the_catalogue(web: Web) -> None:
    answer = await web.client.get("/app/i18n/bg.json")
    assert answer.status_code == 200
    messages = answer.json()["messages"]
    assert messages["Sign in"] == "Вход"
    assert messages["Cost so far"] == "Цена досега"
    assert "max-age" in answer.headers["cache-control"]


async def test_an_unknown_language_is_404_saying_which_exist(web: Web) -> None:
    for language in ("xx", "de", "en-x"):
        answer = await web.client.get(f"/app/i18n/{language}.json")
        assert answer.status_code == 404, language
        detail = answer.json()["detail"]
        assert "no language" in detail and "en, bg" in detail


def test_every_text_of_the_app_has_a_bulgarian_translation() -> None:
    with CATALOGUE.open("rb") as stream:
        catalogue = read_po(stream, locale="bg")
    translated = {
        m.id: m.string
        for m in catalogue
        if m.id and isinstance(m.string, str) and m.string and not m.fuzzy
    }
    texts = used_texts()
    assert len(texts) > 100  # the extraction finds the app's texts
    missing = sorted(texts - translated.keys())
    assert missing == [], f"add these to {CATALOGUE.name}: {missing}"
    for text in texts:  # placeholders are filled by name: a translation keeps every one
        assert set(PLACEHOLDER.findall(translated[text])) == set(PLACEHOLDER.findall(text)), text
