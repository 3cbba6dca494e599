"""A driver's whole story over the API against a real station: sign up, confirm the e-mail, add a
card (approved by an operator), start charging from the app, see the session, stop it."""

from __future__ import annotations

import re
from decimal import Decimal

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as c16
from ocpp.v16 import call_result as r16

PASSWORD = "s3cret-station-password"


class AppStation(ChargePoint16):
    remote: tuple[str, int] | None = None
    remote_stop: int | None = None

    @on("RemoteStartTransaction")
    def on_remote_start(self, id_tag, connector_id=None, **_):
        self.remote = (id_tag, connector_id)
        return r16.RemoteStartTransaction(status="Accepted")

    @on("RemoteStopTransaction")
    def on_remote_stop(self, transaction_id, **_):
        self.remote_stop = transaction_id
        return r16.RemoteStopTransaction(status="Accepted")


async def test_a_driver_signs_up_adds_a_card_and_charges_from_the_app(evcms):
    h = evcms
    api = h.api
    signed_up = await api.post(
        "/api/v1/drivers/register",
        json={"email": "mila@example.com", "password": "a long passphrase 7", "name": "Mila"},
        headers={"Authorization": ""},
    )
    assert signed_up.status_code == 201, signed_up.text
    too_early = await api.post(
        "/api/v1/drivers/login", json={"email": "mila@example.com", "password": "a long passphrase 7"}
    )
    assert too_early.status_code in (401, 403)  # the e-mail is not confirmed yet

    outbox = (await api.get("/api/v1/outbox")).json()["mails"]
    mail = next(m for m in outbox if m["to_address"] == "mila@example.com")
    link_token = re.search(r"verify-email\?token=([\w\-]+)", mail["body"]).group(1)
    assert (await api.post("/api/v1/drivers/verify-email", json={"token": link_token})).status_code == 200
    login = await api.post(
        "/api/v1/drivers/login", json={"email": "mila@example.com", "password": "a long passphrase 7"}
    )
    assert login.status_code == 200, login.text
    mila = {"Authorization": f"Bearer {login.json()['token']}"}

    card = await api.post("/api/v1/me/tokens", json={"id": "MILA-CARD", "label": "keyring"}, headers=mila)
    assert card.status_code == 201 and card.json()["pending_approval"] is True
    refused = await api.post(
        "/api/v1/me/sessions/start",
        json={"station_id": "APP-1", "evse_id": 1, "token_id": "MILA-CARD"},
        headers=mila,
    )
    assert refused.status_code in (404, 409)  # not approved, (and no such station yet)
    assert (await api.post("/api/v1/tokens/MILA-CARD/approve")).status_code == 200

    await h.add_station("APP-1", password=PASSWORD)
    async with h.connect("APP-1", "ocpp1.6", PASSWORD, handlers=AppStation) as cp:
        await cp.call(c16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        await cp.call(c16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        started = await api.post(
            "/api/v1/me/sessions/start",
            json={"station_id": "APP-1", "evse_id": 1, "token_id": "MILA-CARD"},
            headers=mila,
        )
        assert started.status_code == 200, started.text
        assert cp.remote == ("MILA-CARD", 1)
        start = await cp.call(c16.StartTransaction(
            connector_id=1, id_tag="MILA-CARD", meter_start=100, timestamp="2026-11-24T10:00:00Z"))
        await cp.call(c16.MeterValues(connector_id=1, transaction_id=start.transaction_id, meter_value=[{
            "timestamp": "2026-11-24T10:05:00Z",
            "sampled_value": [{"value": "1.1", "unit": "kWh", "measurand": "Energy.Active.Import.Register"}],
        }]))
        mine = (await api.get("/api/v1/me/sessions", headers=mila)).json()["sessions"]
        assert len(mine) == 1 and mine[0]["status"] == "Active"
        assert Decimal(mine[0]["energy_wh"]) == 1000
        stop = await api.post(f"/api/v1/me/sessions/{mine[0]['id']}/stop", headers=mila)
        assert stop.status_code == 200, stop.text
        assert cp.remote_stop == start.transaction_id
        await cp.call(c16.StopTransaction(
            meter_stop=1500, timestamp="2026-11-24T10:10:00Z", transaction_id=start.transaction_id,
            reason="Remote"))

    done = (await api.get(f"/api/v1/me/sessions/{mine[0]['id']}", headers=mila)).json()
    assert done["status"] == "Ended" and done["stop_reason"] == "Remote"
    assert Decimal(done["energy_wh"]) == 1400
    # another driver sees none of it
    await api.post("/api/v1/drivers/register", json={"email": "oli@example.com", "password": "another passphrase 8"})
    outbox = (await api.get("/api/v1/outbox")).json()["mails"]
    oli_token = re.search(
        r"verify-email\?token=([\w\-]+)", next(m for m in outbox if m["to_address"] == "oli@example.com")["body"]
    ).group(1)
    await api.post("/api/v1/drivers/verify-email", json={"token": oli_token})
    oli_login = await api.post("/api/v1/drivers/login", json={"email": "oli@example.com", "password": "another passphrase 8"})
    oli = {"Authorization": f"Bearer {oli_login.json()['token']}"}
    assert (await api.get("/api/v1/me/sessions", headers=oli)).json()["sessions"] == []
    assert (await api.get(f"/api/v1/me/sessions/{mine[0]['id']}", headers=oli)).status_code == 404
