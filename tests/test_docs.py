"""The README's configuration table lists every setting there is."""

from __future__ import annotations

from pathlib import Path

from evcms.settings import reference

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_every_setting_is_documented():
    missing = [variable for variable, _, _ in reference() if f"`{variable}`" not in README]
    assert not missing, f"README lacks: {missing}"
