from __future__ import annotations

from datetime import UTC, datetime, timedelta

from web_harness import Web

from evcms.domain.ids import StationId
from evcms.services.ports import Direction

CP1 = StationId("CP-1")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _log(web: Web, count: int) -> None:
    for station_id in ("CP-1", "CP-2"):
        response = await web.client.post(
            "/api/v1/stations", json={"id": station_id}, headers=web.auth()
        )
        assert response.status_code == 201
    for n in range(count):
        at = T0 + timedelta(seconds=n)
        web.message_log.append(CP1, Direction.IN, f'[2,"{n}","Heartbeat",{{}}]', at)
        web.message_log.append(StationId("CP-2"), Direction.IN, '[2,"x","Heartbeat",{}]', at)
        web.message_log.append(CP1, Direction.OUT, f'[3,"{n}",{{"currentTime":"x"}}]', at)
    await web.message_log.flush()


async def test_messages_newest_first_with_parsed_and_raw_frames(web: Web) -> None:
    await _log(web, 2)
    response = await web.client.get("/api/v1/stations/CP-1/messages", headers=web.auth())
    assert response.status_code == 200
    page = response.json()
    assert page["next_before_id"] is None
    first = page["messages"][0]
    assert first["direction"] == "out"
    assert first["at"] == "2026-03-01T12:00:01Z"
    assert first["message"] == [3, "1", {"currentTime": "x"}]
    assert first["raw"] == '[3,"1",{"currentTime":"x"}]'
    assert [m["direction"] for m in page["messages"]] == ["out", "in", "out", "in"]
    ids = [m["id"] for m in page["messages"]]
    assert ids == sorted(ids, reverse=True)


async def test_a_frame_that_is_not_json_is_kept_raw(web: Web) -> None:
    await _log(web, 0)
    web.message_log.append(CP1, Direction.IN, "[2,'broken", T0)
    await web.message_log.flush()
    page = (await web.client.get("/api/v1/stations/CP-1/messages", headers=web.auth())).json()
    assert page["messages"] == [
        {
            "id": page["messages"][0]["id"],
            "at": "2026-03-01T12:00:00Z",
            "direction": "in",
            "message": None,
            "raw": "[2,'broken",
        }
    ]


async def test_paging_with_before_id(web: Web) -> None:
    await _log(web, 5)  # 10 messages of CP-1
    seen: list[int] = []
    url = "/api/v1/stations/CP-1/messages?limit=4"
    pages = 0
    while True:
        page = (await web.client.get(url, headers=web.auth())).json()
        pages += 1
        seen += [m["id"] for m in page["messages"]]
        if page["next_before_id"] is None:
            break
        url = f"/api/v1/stations/CP-1/messages?limit=4&before_id={page['next_before_id']}"
    assert pages == 3
    assert len(seen) == 10 == len(set(seen))
    assert seen == sorted(seen, reverse=True)


async def test_limits_are_bounded(web: Web) -> None:
    await _log(web, 0)
    for query in ("limit=0", "limit=1001", "limit=ten", "before_id=0"):
        response = await web.client.get(
            f"/api/v1/stations/CP-1/messages?{query}", headers=web.auth()
        )
        assert response.status_code == 422, query
        assert "query field" in response.json()["detail"]
    ok = await web.client.get("/api/v1/stations/CP-1/messages?limit=1000", headers=web.auth())
    assert ok.status_code == 200
