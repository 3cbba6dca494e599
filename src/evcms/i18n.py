"""Translations of the texts evcms shows people: documents and mails, the console, the driver app.

Texts are written in English in the code and used as gettext message ids; each other language
has catalogues ``locale/<language>/LC_MESSAGES/<domain>.po`` next to this module (``messages``
for documents and mails, ``console`` and ``app`` for the pages), read with
Babel the first time the language is asked for and kept. A text missing from a catalogue (or a
language without one) falls back to the English text, so a missing translation degrades to
English instead of failing.

Numbers, money and dates are formatted with Babel in the language's locale (:data:`LOCALES`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from babel.messages.pofile import read_po

DEFAULT_LANGUAGE = "en"
# The languages evcms speaks, and the Babel locale their numbers and dates are formatted in.
LOCALES: dict[str, str] = {"en": "en_GB", "bg": "bg_BG"}
LANGUAGES = tuple(LOCALES)
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

Translator = Callable[[str], str]


def catalogue_path(language: str, domain: str = "messages") -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"


@functools.cache
def messages(language: str, domain: str = "messages") -> dict[str, str]:
    """The translated texts of ``language`` (msgid -> msgstr), without empty or fuzzy ones.
    English, and a language without a catalogue, have none."""
    path = catalogue_path(language, domain)
    if language == DEFAULT_LANGUAGE or not language.isalpha() or not path.is_file():
        return {}
    with path.open("rb") as stream:
        catalogue = read_po(stream, locale=language)
    found: dict[str, str] = {}
    for message in catalogue:
        if not message.id or message.fuzzy or not isinstance(message.id, str):
            continue
        if isinstance(message.string, str) and message.string:
            found[message.id] = message.string
    return found


def translator(language: str) -> Translator:
    """``gettext`` for ``language``: the translation of a text, or the text itself."""
    table = messages(language)

    def translate(message: str) -> str:
        return table.get(message, message)

    return translate


def locale_of(language: str) -> str:
    """The Babel locale to format numbers, money and dates in for ``language``."""
    return LOCALES.get(language, LOCALES[DEFAULT_LANGUAGE])
