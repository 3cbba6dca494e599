"""Every text of the operator console has its Bulgarian translation in console.po.

The console translates with ``t("English text")`` (static/console/lib/i18n.js); a msgid without
a translation would show English in a Bulgarian console. One test per page set, so each helper's
pages fail on their own; placeholders ({name}) must survive translation."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).parents[2] / "src" / "evcms"
CONSOLE = ROOT / "web" / "static" / "console"
CATALOG = ROOT / "locale" / "bg" / "LC_MESSAGES" / "console.po"
MSGID = re.compile(r"""\bt\(\s*"((?:[^"\\]|\\.)*)"|\bt\(\s*'((?:[^'\\]|\\.)*)'""")
PLACEHOLDER = re.compile(r"\{\w+\}")


def msgids(*files: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for file in files:
        code = "\n".join(  # comments show t() in examples: not texts of the page
            line
            for line in file.read_text(encoding="utf-8").splitlines()
            if not line.lstrip().startswith("//")
        )
        for double, single in MSGID.findall(code):
            text = (double or single).replace('\\"', '"').replace("\\'", "'")
            found.setdefault(text, file)
    return found


def catalog() -> dict[str, str]:
    with CATALOG.open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle, locale="bg") if m.id and m.string}


def untranslated(*files: Path) -> list[str]:
    translated = catalog()
    return [
        f"{path.relative_to(CONSOLE)}: {text!r}"
        for text, path in msgids(*files).items()
        if text not in translated
    ]


def broken_placeholders(*files: Path) -> list[str]:
    translated = catalog()
    return [
        f"{text!r} -> {translated[text]!r}"
        for text in msgids(*files)
        if text in translated
        and sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(translated[text]))
    ]


CORE_PAGES = [
    CONSOLE / "lib" / "console_core.js",
    *(
        CONSOLE / "pages" / f"{name}.js"
        for name in (
            "dashboard",
            "stations",
            "station",
            "sessions",
            "session",
            "alerts",
            "operations",
        )
    ),
]


def test_the_core_pages_are_translated() -> None:
    """dashboard, stations, station, sessions, session, alerts, operations"""
    assert len(msgids(*CORE_PAGES)) > 100  # the pattern finds the texts
    assert untranslated(*CORE_PAGES) == []
    assert broken_placeholders(*CORE_PAGES) == []


ADMIN_PAGES = [
    CONSOLE / "lib" / "admin.js",
    *(
        CONSOLE / "pages" / f"{name}.js"
        for name in ("firmware", "analytics", "drivers", "tariffs", "billing", "webhooks", "users")
    ),
]
# texts the admin pages translate from the API's values: t(token.status), t(charge.status)...
ADMIN_VALUES = [
    "Accepted", "Blocked", "Expired", "Invalid",  # token statuses
    "pending", "paid", "unpaid", "free",  # charge statuses
    "active", "deactivated",  # driver statuses
    "admin", "operator", "technician", "viewer",  # roles
]


def test_the_admin_pages_are_translated() -> None:
    """firmware, analytics, drivers, tariffs, billing, webhooks, users"""
    assert len(msgids(*ADMIN_PAGES)) > 200  # the pattern finds the texts
    assert untranslated(*ADMIN_PAGES) == []
    assert broken_placeholders(*ADMIN_PAGES) == []
    translated = catalog()
    assert [value for value in ADMIN_VALUES if value not in translated] == []


def test_the_shell_is_translated() -> None:
    shell = [
        CONSOLE / "app.js",
        *(CONSOLE / "lib" / f"{n}.js" for n in ("api", "chart", "events", "i18n", "ui")),
    ]
    assert untranslated(*shell) == []


def test_each_text_is_in_the_catalog_once() -> None:
    """gettext tools refuse a catalog with a msgid twice (Babel silently keeps the first)."""
    ids = re.findall(r'^msgid "(.+)"$', CATALOG.read_text(encoding="utf-8"), re.MULTILINE)
    assert [text for text, n in Counter(ids).items() if n > 1] == []
