"""Charging sessions end to end: real stations (the `ocpp` package) over real sockets.

Cards are issued through the token service; sessions are read back through the API.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as c16
from ocpp.v16 import call_result as r16
from ocpp.v21 import call as c21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as c201
from ocpp.v201 import call_result as r201

from evcms.domain.tokens import TokenStatus, TokenType

PASSWORD = "s3cret-station-password"
CALLS = {"ocpp2.0.1": c201, "ocpp2.1": c21}


def ts(minutes: float) -> str:
    base = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    return (base + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def mv16(minutes: float, wh: int, power_w: int = 11000) -> dict:
    return {
        "timestamp": ts(minutes),
        "sampled_value": [
            {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh",
             "context": "Sample.Periodic"},
            {"value": str(power_w / 1000), "measurand": "Power.Active.Import", "unit": "kW",
             "context": "Sample.Periodic"},
        ],
    }


def mv201(minutes: float, kwh: str, context: str = "Sample.Periodic") -> dict:
    return {
        "timestamp": ts(minutes),
        "sampled_value": [
            {"value": float(kwh), "measurand": "Energy.Active.Import.Register",
             "context": context, "unit_of_measure": {"unit": "kWh"}},
            {"value": 75, "measurand": "SoC", "context": context, "location": "EV",
             "unit_of_measure": {"unit": "Percent"}},
        ],
    }


async def session_of(h, station_id: str, transaction_id: str) -> dict:
    session = await h.node.charging.find(station_id, transaction_id)
    assert session is not None, f"no session {transaction_id} on {station_id}"
    response = await h.api.get(f"/api/v1/sessions/{session.id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def only_session(h, station_id: str) -> dict:
    response = await h.api.get("/api/v1/sessions", params={"station_id": station_id})
    assert response.status_code == 200, response.text
    items = response.json()["sessions"]
    assert len(items) == 1, items
    return dict(items[0])


@pytest.fixture
async def cards(evcms):
    tokens = evcms.node.tokens
    await tokens.issue("CARD-OK", type=TokenType.ISO14443)
    await tokens.issue("CARD-BLOCKED", status=TokenStatus.BLOCKED)
    await tokens.issue("CARD-OLD", expires_at=datetime.now(UTC) - timedelta(days=1))
    await tokens.issue("CARD-SOLO", max_concurrent=1)
    return evcms


async def test_v16_full_session_with_an_rfid_card(cards):
    h = cards
    await h.add_station("S16-1", password=PASSWORD)
    async with h.connect("S16-1", "ocpp1.6", PASSWORD) as cp:
        await cp.call(c16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        auth = await cp.call(c16.Authorize(id_tag="CARD-OK"))
        assert auth.id_tag_info["status"] == "Accepted"
        start = await cp.call(
            c16.StartTransaction(connector_id=1, id_tag="CARD-OK", meter_start=1_000_000, timestamp=ts(0))
        )
        assert start.id_tag_info["status"] == "Accepted"
        tx = start.transaction_id
        for minute, wh in [(1, 1_000_300), (2, 1_000_650), (3, 1_001_000)]:
            await cp.call(c16.MeterValues(connector_id=1, transaction_id=tx, meter_value=[mv16(minute, wh)]))
        live = await session_of(h, "S16-1", str(tx))
        assert live["status"] == "Active"
        assert Decimal(live["energy_wh"]) == 1000
        assert Decimal(live["power_w"]) == 11000
        stop = await cp.call(
            c16.StopTransaction(meter_stop=1_001_250, timestamp=ts(4), transaction_id=tx,
                                reason="EVDisconnected", id_tag="CARD-OK")
        )
        assert stop.id_tag_info["status"] == "Accepted"
    done = await session_of(h, "S16-1", str(tx))
    assert done["status"] == "Ended"
    assert Decimal(done["energy_wh"]) == 1250
    assert done["stop_reason"] == "EVDisconnected"
    assert done["id_token"] == "CARD-OK"
    assert done["started_at"].startswith("2026-11-24T10:00:00")


@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"])
async def test_v201_full_session_with_an_rfid_card(cards, version):
    h = cards
    c201 = CALLS[version]
    await h.add_station("S201-1", password=PASSWORD)
    card = {"id_token": "CARD-OK", "type": "ISO14443"}
    async with h.connect("S201-1", version, PASSWORD) as cp:
        await cp.call(c201.BootNotification(
            charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"))
        auth = await cp.call(c201.Authorize(id_token=card))
        assert auth.id_token_info["status"] == "Accepted"
        started = await cp.call(c201.TransactionEvent(
            event_type="Started", timestamp=ts(0), trigger_reason="Authorized", seq_no=0,
            transaction_info={"transaction_id": "TX-A"}, id_token=card,
            evse={"id": 1, "connector_id": 1}, meter_value=[mv201(0, "20.000", "Transaction.Begin")],
        ))
        assert started.id_token_info["status"] == "Accepted"
        for seq, (minute, kwh) in enumerate([(1, "20.5"), (2, "21.25")], start=1):
            await cp.call(c201.TransactionEvent(
                event_type="Updated", timestamp=ts(minute), trigger_reason="MeterValuePeriodic",
                seq_no=seq, transaction_info={"transaction_id": "TX-A", "charging_state": "Charging"},
                meter_value=[mv201(minute, kwh)], number_of_phases_used=3,
            ))
        await cp.call(c201.TransactionEvent(
            event_type="Ended", timestamp=ts(3), trigger_reason="EVDeparted", seq_no=3,
            transaction_info={"transaction_id": "TX-A", "stopped_reason": "EVDisconnected"},
            meter_value=[mv201(3, "22.000", "Transaction.End")],
        ))
    done = await session_of(h, "S201-1", "TX-A")
    assert done["status"] == "Ended"
    assert Decimal(done["energy_wh"]) == 2000
    assert Decimal(done["soc_percent"]) == 75
    assert done["number_of_phases"] == 3
    assert done["ocpp_version"] == version
    assert done["stop_reason"] == "EVDisconnected"
    assert (done["evse_id"], done["connector_id"]) == (1, 1)


@pytest.mark.parametrize(
    ("card", "v16", "v201"),
    [("CARD-BLOCKED", "Blocked", "Blocked"), ("CARD-OLD", "Expired", "Expired"),
     ("NO-SUCH-CARD", "Invalid", "Unknown")],
)
async def test_blocked_expired_and_unknown_cards_are_refused(cards, card, v16, v201):
    h = cards
    await h.add_station("AUTH-16", password=PASSWORD)
    await h.add_station("AUTH-201", password=PASSWORD)
    async with h.connect("AUTH-16", "ocpp1.6", PASSWORD) as cp:
        assert (await cp.call(c16.Authorize(id_tag=card))).id_tag_info["status"] == v16
        start = await cp.call(c16.StartTransaction(connector_id=1, id_tag=card, meter_start=0, timestamp=ts(0)))
        assert start.id_tag_info["status"] == v16  # a transaction id all the same, as 1.6 wants
    async with h.connect("AUTH-201", "ocpp2.0.1", PASSWORD) as cp:
        auth = await cp.call(c201.Authorize(id_token={"id_token": card, "type": "ISO14443"}))
        assert auth.id_token_info["status"] == v201


async def test_concurrent_sessions_beyond_the_limit_are_refused(cards):
    h = cards
    await h.add_station("CONC-1", password=PASSWORD)
    async with h.connect("CONC-1", "ocpp1.6", PASSWORD) as cp:
        first = await cp.call(c16.StartTransaction(connector_id=1, id_tag="CARD-SOLO", meter_start=0, timestamp=ts(0)))
        assert first.id_tag_info["status"] == "Accepted"
        assert (await cp.call(c16.Authorize(id_tag="CARD-SOLO"))).id_tag_info["status"] == "ConcurrentTx"
        second = await cp.call(c16.StartTransaction(connector_id=2, id_tag="CARD-SOLO", meter_start=0, timestamp=ts(1)))
        assert second.id_tag_info["status"] == "ConcurrentTx"
        # as 1.6 prescribes, the station ends the refused transaction itself
        await cp.call(c16.StopTransaction(meter_stop=0, timestamp=ts(1.5), transaction_id=second.transaction_id,
                                          reason="DeAuthorized"))
        await cp.call(c16.StopTransaction(meter_stop=10, timestamp=ts(2), transaction_id=first.transaction_id))
        third = await cp.call(c16.StartTransaction(connector_id=2, id_tag="CARD-SOLO", meter_start=0, timestamp=ts(3)))
        assert third.id_tag_info["status"] == "Accepted"


async def test_v16_offline_session_delivered_late_and_twice_is_one_session(cards):
    h = cards
    await h.add_station("OFF-16", password=PASSWORD)
    async with h.connect("OFF-16", "ocpp1.6", PASSWORD) as cp:
        start = c16.StartTransaction(connector_id=1, id_tag="CARD-OK", meter_start=5_000, timestamp=ts(0))
        first = await cp.call(start)
        again = await cp.call(start)  # the station did not see our answer and retries
        assert again.transaction_id == first.transaction_id
        tx = first.transaction_id
        values = [mv16(1, 5_400), mv16(2, 5_900)]
        for _ in range(2):  # the whole queue replayed
            for value in values:
                await cp.call(c16.MeterValues(connector_id=1, transaction_id=tx, meter_value=[value]))
            await cp.call(c16.StopTransaction(meter_stop=6_000, timestamp=ts(3), transaction_id=tx, reason="Local"))
    done = await only_session(h, "OFF-16")
    assert done["status"] == "Ended"
    assert Decimal(done["energy_wh"]) == 1000


async def test_v201_offline_events_out_of_order_and_repeated_end_right(cards):
    h = cards
    await h.add_station("OFF-201", password=PASSWORD)
    card = {"id_token": "CARD-OK", "type": "ISO14443"}

    def event(kind, seq, minute, kwh, context="Sample.Periodic", **extra):
        return c201.TransactionEvent(
            event_type=kind, timestamp=ts(minute), trigger_reason="MeterValuePeriodic", seq_no=seq,
            offline=True, transaction_info={"transaction_id": "TX-OFF", **extra},
            meter_value=[mv201(minute, kwh, context)],
            **({"id_token": card, "evse": {"id": 2, "connector_id": 1}} if kind == "Started" else {}),
        )

    queue = [
        event("Started", 0, 0, "10.0", "Transaction.Begin"),
        event("Updated", 1, 1, "10.4"),
        event("Updated", 2, 2, "10.9"),
        event("Ended", 3, 3, "11.5", "Transaction.End", stopped_reason="Local"),
    ]
    async with h.connect("OFF-201", "ocpp2.0.1", PASSWORD) as cp:
        for e in [queue[2], queue[0], queue[3], queue[1], queue[2], queue[0]]:
            await cp.call(e)
    done = await only_session(h, "OFF-201")
    assert done["status"] == "Ended"
    assert done["offline"] is True
    assert Decimal(done["energy_wh"]) == 1500
    assert done["started_at"].startswith("2026-11-24T10:00:00")


async def test_stop_for_a_transaction_never_seen_is_kept(cards):
    h = cards
    await h.add_station("ORPHAN-1", password=PASSWORD)
    async with h.connect("ORPHAN-1", "ocpp1.6", PASSWORD) as cp:
        answer = await cp.call(c16.StopTransaction(
            meter_stop=2_000, timestamp=ts(5), transaction_id=-1, id_tag="CARD-OK",
            transaction_data=[mv16(1, 1_200), mv16(4, 1_900)], reason="PowerLoss"))
        assert answer.id_tag_info["status"] == "Accepted"
    kept = await only_session(h, "ORPHAN-1")
    assert kept["status"] == "Ended"
    assert kept["stop_reason"] == "PowerLoss"
    assert Decimal(kept["energy_wh"]) == 800  # from the first reading it has: 1,200 -> 2,000


async def test_v16_reboot_mid_session_closes_it_with_a_reason(cards):
    h = cards
    await h.add_station("BOOT-16", password=PASSWORD)
    async with h.connect("BOOT-16", "ocpp1.6", PASSWORD) as cp:
        start = await cp.call(c16.StartTransaction(connector_id=1, id_tag="CARD-OK", meter_start=0, timestamp=ts(0)))
        await cp.call(c16.BootNotification(charge_point_vendor="V", charge_point_model="M"))

        async def closed() -> bool:
            return (await session_of(h, "BOOT-16", str(start.transaction_id)))["status"] == "Ended"

        await h.wait_for(closed)
        assert (await session_of(h, "BOOT-16", str(start.transaction_id)))["stop_reason"] == "StationRebooted"
        # the station's own StopTransaction, delivered after the reboot, still wins
        await cp.call(c16.StopTransaction(meter_stop=700, timestamp=ts(1), transaction_id=start.transaction_id, reason="Reboot"))
    final = await session_of(h, "BOOT-16", str(start.transaction_id))
    assert final["stop_reason"] == "Reboot"
    assert Decimal(final["energy_wh"]) == 700


class Station201(ChargePoint201):
    ongoing = False

    @on("GetTransactionStatus")
    def on_status(self, transaction_id=None, **_):
        return r201.GetTransactionStatus(messages_in_queue=False, ongoing_indicator=self.ongoing)

    @on("RequestStartTransaction")
    def on_start(self, id_token, remote_start_id, evse_id=None, **_):
        self.requested = (id_token, remote_start_id, evse_id)
        return r201.RequestStartTransaction(status="Accepted")

    @on("RequestStopTransaction")
    def on_stop(self, transaction_id, **_):
        self.stop_requested = transaction_id
        return r201.RequestStopTransaction(status="Accepted")


async def test_v201_reboot_asks_the_station_before_closing(cards):
    h = cards
    await h.add_station("BOOT-201", password=PASSWORD)
    card = {"id_token": "CARD-OK", "type": "ISO14443"}
    async with h.connect("BOOT-201", "ocpp2.0.1", PASSWORD, handlers=Station201) as cp:
        for tx in ("KEEP", "GONE"):
            await cp.call(c201.TransactionEvent(
                event_type="Started", timestamp=ts(0), trigger_reason="Authorized", seq_no=0,
                transaction_info={"transaction_id": tx}, id_token=card, evse={"id": 1 if tx == "KEEP" else 2}))
        cp.ongoing = False
        await cp.call(c201.BootNotification(charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"))

        async def both_closed() -> bool:
            return all([(await session_of(h, "BOOT-201", tx))["status"] == "Ended" for tx in ("KEEP", "GONE")])

        await h.wait_for(both_closed)


class Station16(ChargePoint16):
    @on("RemoteStartTransaction")
    def on_remote_start(self, id_tag, connector_id=None, **_):
        self.remote = (id_tag, connector_id)
        return r16.RemoteStartTransaction(status="Accepted")

    @on("RemoteStopTransaction")
    def on_remote_stop(self, transaction_id, **_):
        self.remote_stop = transaction_id
        return r16.RemoteStopTransaction(status="Accepted")


async def test_app_start_and_stop_v16(cards):
    h = cards
    await h.add_station("APP-16", password=PASSWORD)
    async with h.connect("APP-16", "ocpp1.6", PASSWORD, handlers=Station16) as cp:
        await cp.call(c16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        response = await h.api.post("/api/v1/stations/APP-16/start", json={"evse_id": 1, "token_id": "CARD-OK"})
        assert response.status_code == 200, response.text
        assert cp.remote == ("CARD-OK", 1)
        start = await cp.call(c16.StartTransaction(connector_id=1, id_tag="CARD-OK", meter_start=0, timestamp=ts(0)))
        session = await session_of(h, "APP-16", str(start.transaction_id))
        response = await h.api.post(f"/api/v1/sessions/{session['id']}/stop")
        assert response.status_code == 200, response.text
        assert cp.remote_stop == start.transaction_id
        await cp.call(c16.StopTransaction(meter_stop=100, timestamp=ts(1), transaction_id=start.transaction_id, reason="Remote"))
    assert (await session_of(h, "APP-16", str(start.transaction_id)))["stop_reason"] == "Remote"


async def test_app_start_and_stop_v201(cards):
    h = cards
    await h.add_station("APP-201", password=PASSWORD)
    async with h.connect("APP-201", "ocpp2.0.1", PASSWORD, handlers=Station201) as cp:
        response = await h.api.post("/api/v1/stations/APP-201/start", json={"evse_id": 1, "token_id": "CARD-OK"})
        assert response.status_code == 200, response.text
        id_token, remote_start_id, evse_id = cp.requested
        assert id_token == {"id_token": "CARD-OK", "type": "ISO14443"} and evse_id == 1  # snake_case: the ocpp library
        await cp.call(c201.TransactionEvent(
            event_type="Started", timestamp=ts(0), trigger_reason="RemoteStart", seq_no=0,
            transaction_info={"transaction_id": "APP-TX", "remote_start_id": remote_start_id},
            id_token={"id_token": "CARD-OK", "type": "ISO14443"}, evse={"id": 1, "connector_id": 1}))
        session = await session_of(h, "APP-201", "APP-TX")
        response = await h.api.post(f"/api/v1/sessions/{session['id']}/stop")
        assert response.status_code == 200, response.text
        assert cp.stop_requested == "APP-TX"
        # a blocked card cannot be used to start
        response = await h.api.post("/api/v1/stations/APP-201/start", json={"evse_id": 2, "token_id": "CARD-BLOCKED"})
        assert response.status_code == 409
        assert "Blocked" in response.json()["detail"]


async def test_force_close_is_audited(cards):
    h = cards
    await h.add_station("STUCK-1", password=PASSWORD)
    async with h.connect("STUCK-1", "ocpp1.6", PASSWORD) as cp:
        start = await cp.call(c16.StartTransaction(connector_id=1, id_tag="CARD-OK", meter_start=0, timestamp=ts(0)))
    session = await session_of(h, "STUCK-1", str(start.transaction_id))
    response = await h.api.post(f"/api/v1/sessions/{session['id']}/force-close", json={"reason": "station replaced"})
    assert response.status_code == 200, response.text
    closed = await session_of(h, "STUCK-1", str(start.transaction_id))
    assert closed["status"] == "Ended" and closed["stop_reason"] == "ForceClosed"
    assert closed["closed_by"] == "tests" and closed["close_note"] == "station replaced"
    await asyncio.sleep(0)


async def test_deactivating_a_driver_blocks_their_cards(cards):
    from evcms.services.charging import TokenRef

    h = cards
    registered = await h.api.post(
        "/api/v1/drivers/register",
        json={"email": "gone@example.com", "password": "correct horse 42", "name": "Gone"},
    )
    assert registered.status_code == 201, registered.text
    driver_id = registered.json()["id"]
    await h.node.tokens.issue("CARD-GONE", driver_id=driver_id)
    assert (await h.node.charging.authorize(TokenRef("CARD-GONE"))).status.value == "Accepted"
    response = await h.api.post(f"/api/v1/drivers/{driver_id}/deactivate")
    assert response.status_code == 200, response.text
    assert (await h.node.charging.authorize(TokenRef("CARD-GONE"))).status.value == "Blocked"


async def test_a_boot_evcms_asked_for_does_not_close_sessions(cards):
    h = cards
    await h.add_station("TRIG-16", password=PASSWORD)

    class Triggerable(ChargePoint16):
        @on("TriggerMessage")
        def on_trigger(self, requested_message, **_):
            return r16.TriggerMessage(status="Accepted")

    async with h.connect("TRIG-16", "ocpp1.6", PASSWORD, handlers=Triggerable) as cp:
        start = await cp.call(c16.StartTransaction(connector_id=1, id_tag="CARD-OK", meter_start=0, timestamp=ts(0)))
        response = await h.api.post(
            "/api/v1/stations/TRIG-16/ocpp/TriggerMessage", json={"requestedMessage": "BootNotification"}
        )
        assert response.json()["payload"] == {"status": "Accepted"}
        await cp.call(c16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        await asyncio.sleep(0.3)  # the reboot check runs after the answer
        assert (await session_of(h, "TRIG-16", str(start.transaction_id)))["status"] == "Active"


async def test_v201_concurrent_sessions_beyond_the_limit_are_refused(cards):
    h = cards
    await h.add_station("CONC-201", password=PASSWORD)
    card = {"id_token": "CARD-SOLO", "type": "ISO14443"}
    async with h.connect("CONC-201", "ocpp2.0.1", PASSWORD) as cp:
        first = await cp.call(c201.TransactionEvent(
            event_type="Started", timestamp=ts(0), trigger_reason="Authorized", seq_no=0,
            transaction_info={"transaction_id": "C-1"}, id_token=card, evse={"id": 1, "connector_id": 1}))
        assert first.id_token_info["status"] == "Accepted"
        auth = await cp.call(c201.Authorize(id_token=card))
        assert auth.id_token_info["status"] == "ConcurrentTx"
        second = await cp.call(c201.TransactionEvent(
            event_type="Started", timestamp=ts(1), trigger_reason="Authorized", seq_no=0,
            transaction_info={"transaction_id": "C-2"}, id_token=card, evse={"id": 2, "connector_id": 1}))
        assert second.id_token_info["status"] == "ConcurrentTx"
