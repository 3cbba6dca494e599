"""A session's price: the station's tariff in the version in force when it started, live while
it charges and final once it ended."""

from __future__ import annotations

from ocpp.v16 import call as c16

PASSWORD = "s3cret-station-password"


def ocpi_tariff(price_per_kwh: str) -> str:
    """OCPI JSON text: prices are JSON numbers (evcms reads them as exact decimals)."""
    return (
        '{"country_code": "BG", "party_id": "EVC", "id": "ENERGY", "currency": "EUR",'
        ' "elements": [{"price_components": [{"type": "ENERGY", "price": ' + price_per_kwh
        + ', "vat": 20.0, "step_size": 1}]}], "last_updated": "2026-11-01T00:00:00Z"}'
    )


def mv(at: str, wh: int) -> list[dict]:
    return [{"timestamp": at, "sampled_value": [
        {"value": str(wh), "unit": "Wh", "measurand": "Energy.Active.Import.Register"}]}]


async def test_a_session_is_priced_live_and_finally_with_the_tariff_at_its_start(evcms):
    h = evcms
    imported = await h.api.post("/api/v1/tariffs", content=ocpi_tariff("0.25"),
                                headers={"Content-Type": "application/json"})
    assert imported.status_code == 201, imported.text
    assigned = await h.api.put("/api/v1/tariffs/ENERGY/assignment", json={"scope": "default"})
    assert assigned.status_code == 200, assigned.text
    await h.node.tokens.issue("CARD-P")
    await h.add_station("PRICE-1", password=PASSWORD)
    async with h.connect("PRICE-1", "ocpp1.6", PASSWORD) as cp:
        start = await cp.call(c16.StartTransaction(
            connector_id=1, id_tag="CARD-P", meter_start=0, timestamp="2026-11-24T10:00:00Z"))
        tx = start.transaction_id
        await cp.call(c16.MeterValues(connector_id=1, transaction_id=tx, meter_value=mv("2026-11-24T10:30:00Z", 4000)))
        session = await h.node.charging.find("PRICE-1", str(tx))
        live = await h.api.get(f"/api/v1/sessions/{session.id}/price")
        assert live.status_code == 200, live.text
        assert live.json()["final"] is False
        assert live.json()["total_excl_vat"] == "1.00"  # 4 kWh so far
        # a new version of the tariff after the start does not change this session's price
        newer = await h.api.post("/api/v1/tariffs", content=ocpi_tariff("0.50"),
                                 headers={"Content-Type": "application/json"})
        assert newer.json()["version"] == 2
        await cp.call(c16.StopTransaction(meter_stop=10000, timestamp="2026-11-24T11:00:00Z",
                                          transaction_id=tx, reason="EVDisconnected"))
    final = (await h.api.get(f"/api/v1/sessions/{session.id}/price")).json()
    assert final["final"] is True
    assert (final["tariff_id"], final["currency"]) == ("ENERGY", "EUR")
    assert (final["total_excl_vat"], final["total_vat"], final["total_incl_vat"]) == ("2.50", "0.50", "3.00")
