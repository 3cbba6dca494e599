from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from web_harness import Web, build_web


@pytest.fixture
async def web() -> AsyncIterator[Web]:
    async with build_web() as harness:
        yield harness
