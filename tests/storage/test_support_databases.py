"""The rule for tests that need PostgreSQL: fail in CI, skip elsewhere, with a clear message."""

from __future__ import annotations

import pytest

from support import databases

UNUSED_PORT = 1  # nothing listens on port 1


@pytest.mark.parametrize(
    ("env", "outcome"),
    [
        ({"CI": "true"}, pytest.fail.Exception),
        ({"EVCMS_REQUIRE_SERVICES": "1"}, pytest.fail.Exception),
        ({}, pytest.skip.Exception),
        ({"CI": "false"}, pytest.skip.Exception),
    ],
)
async def test_missing_postgres_fails_when_services_are_required_and_skips_otherwise(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], outcome: type[BaseException]
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("EVCMS_REQUIRE_SERVICES", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(outcome) as caught:
        await databases.require_postgres(port=UNUSED_PORT)
    message = str(caught.value)
    assert f"PostgreSQL is not reachable on 127.0.0.1:{UNUSED_PORT} — start it with" in message
    assert "pg_ctlcluster" in message


async def test_the_probe_reports_an_unreachable_server() -> None:
    assert await databases.postgres_available(port=UNUSED_PORT) is False


@pytest.mark.postgres
async def test_a_temporary_database_is_dropped_afterwards() -> None:
    import asyncpg

    async with databases.temporary_postgres_database() as url:
        name = url.rsplit("/", 1)[1]
        conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database=name)
        await conn.close()
    admin = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="postgres")
    try:
        assert (
            await admin.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name) == 0
        )
    finally:
        await admin.close()
