"""Reservations end to end: real stations (the `ocpp` package) over real sockets answer ReserveNow
and CancelReservation; reservations are made and read through the API.

For each of 1.6 and 2.0.1: a reservation honoured (another token is refused on the reserved
EVSE, the reserving token starts and uses it) and one expiring (evcms' own expiry for 1.6, the
station's ReservationStatusUpdate for 2.0.1), after which anyone may start again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as c16
from ocpp.v16 import call_result as r16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as c201
from ocpp.v201 import call_result as r201

PASSWORD = "s3cret-station-password"


def ts(minutes: float = 0) -> str:
    at = datetime.now(UTC) + timedelta(minutes=minutes)
    return at.isoformat().replace("+00:00", "Z")


class Reserving16(ChargePoint16):
    answer = "Accepted"

    @on("ReserveNow")
    def on_reserve_now(self, connector_id, expiry_date, id_tag, reservation_id, parent_id_tag=None, **_):
        self.reserved = {"connector_id": connector_id, "id_tag": id_tag,
                         "reservation_id": reservation_id, "parent_id_tag": parent_id_tag,
                         "expiry_date": expiry_date}
        return r16.ReserveNow(status=self.answer)

    @on("CancelReservation")
    def on_cancel(self, reservation_id, **_):
        self.cancelled = reservation_id
        return r16.CancelReservation(status="Accepted")


class Reserving201(ChargePoint201):
    @on("ReserveNow")
    def on_reserve_now(self, id, expiry_date_time, id_token, evse_id=None, group_id_token=None, **_):
        self.reserved = {"id": id, "id_token": id_token, "evse_id": evse_id,
                         "group_id_token": group_id_token}
        return r201.ReserveNow(status="Accepted")

    @on("CancelReservation")
    def on_cancel(self, reservation_id, **_):
        self.cancelled = reservation_id
        return r201.CancelReservation(status="Accepted")


@pytest.fixture
async def h(evcms):
    for card, group in (("CARD-A", "FLEET"), ("CARD-B", None), ("CARD-A2", "FLEET")):
        await evcms.node.tokens.issue(card, group_id=group, max_concurrent=0)
    return evcms


async def reserve(h, station_id: str, evse_id: int, token_id: str, **extra: Any) -> dict:
    response = await h.api.post(
        "/api/v1/reservations",
        json={"station_id": station_id, "evse_id": evse_id, "token_id": token_id, **extra},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def reservation(h, reservation_id: int) -> dict:
    response = await h.api.get(f"/api/v1/reservations/{reservation_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_v16_reservation_honoured(h):
    await h.add_station("RES-16", password=PASSWORD)
    async with h.connect("RES-16", "ocpp1.6", PASSWORD, handlers=Reserving16) as cp:
        await cp.call(c16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        made = await reserve(h, "RES-16", 1, "CARD-A")
        assert made["status"] == "Accepted"
        assert cp.reserved["connector_id"] == 1 and cp.reserved["id_tag"] == "CARD-A"
        assert cp.reserved["reservation_id"] == made["id"] and cp.reserved["parent_id_tag"] == "FLEET"
        await cp.call(c16.StatusNotification(connector_id=1, error_code="NoError", status="Reserved"))

        # another card on the reserved connector: refused (1.6 has no Reserved status: Invalid)
        other = await cp.call(c16.StartTransaction(connector_id=1, id_tag="CARD-B", meter_start=0, timestamp=ts()))
        assert other.id_tag_info["status"] == "Invalid"
        await cp.call(c16.StopTransaction(meter_stop=0, timestamp=ts(), transaction_id=other.transaction_id,
                                          reason="DeAuthorized"))
        # ... but welcome on the connector next to it
        beside = await cp.call(c16.StartTransaction(connector_id=2, id_tag="CARD-B", meter_start=0, timestamp=ts()))
        assert beside.id_tag_info["status"] == "Accepted"

        mine = await cp.call(c16.StartTransaction(connector_id=1, id_tag="CARD-A", meter_start=0,
                                                  timestamp=ts(), reservation_id=made["id"]))
        assert mine.id_tag_info["status"] == "Accepted"
    used = await reservation(h, made["id"])
    session = await h.node.charging.find("RES-16", str(mine.transaction_id))
    assert used["status"] == "Used" and used["session_id"] == session.id


async def test_v16_reservation_expiring_and_cancelled(h):
    await h.add_station("EXP-16", password=PASSWORD)
    async with h.connect("EXP-16", "ocpp1.6", PASSWORD, handlers=Reserving16) as cp:
        soon = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
        made = await reserve(h, "EXP-16", 1, "CARD-A", expires_at=soon)
        assert made["status"] == "Accepted"
        refused = await cp.call(c16.StartTransaction(connector_id=1, id_tag="CARD-B", meter_start=0, timestamp=ts()))
        assert refused.id_tag_info["status"] == "Invalid"
        await cp.call(c16.StopTransaction(meter_stop=0, timestamp=ts(), transaction_id=refused.transaction_id))

        async def expired() -> bool:
            return (await reservation(h, made["id"]))["status"] == "Expired"

        await h.wait_for(expired, timeout=10)
        after = await cp.call(c16.StartTransaction(connector_id=1, id_tag="CARD-B", meter_start=0, timestamp=ts(1)))
        assert after.id_tag_info["status"] == "Accepted"

        # a reservation cancelled before it is used holds nothing either
        cancelled = await reserve(h, "EXP-16", 2, "CARD-A")
        response = await h.api.post(f"/api/v1/reservations/{cancelled['id']}/cancel")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "Cancelled" and cp.cancelled == cancelled["id"]
        free = await cp.call(c16.StartTransaction(connector_id=2, id_tag="CARD-B", meter_start=0, timestamp=ts(2)))
        assert free.id_tag_info["status"] == "Accepted"


async def test_v16_station_refusing_reserves_nothing(h):
    await h.add_station("OCC-16", password=PASSWORD)
    async with h.connect("OCC-16", "ocpp1.6", PASSWORD, handlers=Reserving16) as cp:
        cp.answer = "Occupied"
        made = await reserve(h, "OCC-16", 1, "CARD-A")
        assert made["status"] == "Occupied"
        start = await cp.call(c16.StartTransaction(connector_id=1, id_tag="CARD-B", meter_start=0, timestamp=ts()))
        assert start.id_tag_info["status"] == "Accepted"


async def test_v201_reservation_honoured(h):
    await h.add_station("RES-201", password=PASSWORD)
    card_a = {"id_token": "CARD-A2", "type": "ISO14443"}  # of the same group as CARD-A
    card_b = {"id_token": "CARD-B", "type": "ISO14443"}
    async with h.connect("RES-201", "ocpp2.0.1", PASSWORD, handlers=Reserving201) as cp:
        made = await reserve(h, "RES-201", 1, "CARD-A")
        assert made["status"] == "Accepted"
        assert cp.reserved == {"id": made["id"], "id_token": {"id_token": "CARD-A", "type": "ISO14443"},
                               "evse_id": 1, "group_id_token": {"id_token": "FLEET", "type": "Central"}}

        other = await cp.call(c201.TransactionEvent(
            event_type="Started", timestamp=ts(), trigger_reason="Authorized", seq_no=0,
            transaction_info={"transaction_id": "TX-OTHER"}, id_token=card_b, evse={"id": 1, "connector_id": 1}))
        assert other.id_token_info["status"] == "NotAtThisTime"

        mine = await cp.call(c201.TransactionEvent(
            event_type="Started", timestamp=ts(), trigger_reason="Authorized", seq_no=0,
            transaction_info={"transaction_id": "TX-MINE"}, id_token=card_a,
            evse={"id": 1, "connector_id": 1}, reservation_id=made["id"]))
        assert mine.id_token_info["status"] == "Accepted"
    used = await reservation(h, made["id"])
    session = await h.node.charging.find("RES-201", "TX-MINE")
    assert used["status"] == "Used" and used["session_id"] == session.id


async def test_v201_reservation_expiring_at_the_station(h):
    await h.add_station("EXP-201", password=PASSWORD)
    card_b = {"id_token": "CARD-B", "type": "ISO14443"}
    async with h.connect("EXP-201", "ocpp2.0.1", PASSWORD, handlers=Reserving201) as cp:
        made = await reserve(h, "EXP-201", 0, "CARD-A")  # any EVSE
        assert cp.reserved["evse_id"] is None
        refused = await cp.call(c201.TransactionEvent(
            event_type="Started", timestamp=ts(), trigger_reason="Authorized", seq_no=0,
            transaction_info={"transaction_id": "TX-1"}, id_token=card_b, evse={"id": 1, "connector_id": 1}))
        assert refused.id_token_info["status"] == "NotAtThisTime"  # no EVSE known to be left

        await cp.call(c201.ReservationStatusUpdate(reservation_id=made["id"], reservation_update_status="Expired"))
        assert (await reservation(h, made["id"]))["status"] == "Expired"
        after = await cp.call(c201.TransactionEvent(
            event_type="Started", timestamp=ts(), trigger_reason="Authorized", seq_no=0,
            transaction_info={"transaction_id": "TX-2"}, id_token=card_b, evse={"id": 1, "connector_id": 1}))
        assert after.id_token_info["status"] == "Accepted"
