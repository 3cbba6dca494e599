"""Every script of the pages parses as an ES module (a duplicate declaration or a typo would
otherwise only show as a blank page in the browser tests)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

STATIC = Path(__file__).parents[2] / "src" / "evcms" / "web" / "static"
SCRIPTS = sorted(p for p in STATIC.rglob("*.js") if "vendor" not in p.parts)
NODE = shutil.which("node")


def test_there_are_page_scripts() -> None:
    assert len(SCRIPTS) >= 10


@pytest.mark.skipif(NODE is None, reason="node is not installed (make setup needs it for npm)")
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(STATIC)))
def test_the_script_parses_as_a_module(script: Path, tmp_path: Path) -> None:
    module = tmp_path / (script.stem + ".mjs")  # .mjs: checked as an ES module
    module.write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
    checked = subprocess.run(
        [str(NODE), "--check", str(module)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
