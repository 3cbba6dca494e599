"""Translations of the pages (console and driver app) as the JSON the pages fetch.

Each page set has its own catalogue domain (``locale/<lang>/LC_MESSAGES/console.po``, ``app.po``;
English is the msgid), read by :mod:`evcms.i18n`. The pages format dates, numbers and money
themselves with the browser's ``Intl`` in the same locale.
"""

from __future__ import annotations

from evcms.i18n import LANGUAGES, messages


class UnknownLanguage(LookupError):
    def __init__(self, language: str) -> None:
        super().__init__(
            f"no translation for language {language!r}; available: {', '.join(LANGUAGES)}"
        )


def translations(domain: str, language: str) -> dict[str, str]:
    """``{msgid: translation}`` of a page set; English (the msgids themselves) is empty."""
    if language not in LANGUAGES:
        raise UnknownLanguage(language)
    return messages(language, domain)
