"""/api/v1/invoices and /api/v1/me/invoices over the in-memory twins, a real ``Invoicing``
service and the real PDF renderer: reading documents, their PDFs, credit notes, who may see
and do what, and 503 without the service."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from charging_harness import DRIVER_PASSWORD, NoMailer, PlainHasher
from pypdf import PdfReader
from web_harness import (
    METRICS_BODY,
    METRICS_TYPE,
    OCPP_URL,
    FakeStationCommands,
    Health,
    core_services,
)

from evcms.documents.invoice_pdf import InvoicePdfRenderer
from evcms.domain.access import Role
from evcms.domain.billing import ChargeLine, LineKind, Party, SessionCharge
from evcms.domain.invoices import Invoice, SessionFacts
from evcms.messaging.bus import InProcessBus
from evcms.services.clock import FixedClock
from evcms.services.drivers import DriverAccounts, DriverPolicy
from evcms.services.invoicing import Invoicing
from evcms.services.remote_operations import RemoteOperations
from evcms.storage.drivers import (
    MemoryDriverAuthTokenRepository,
    MemoryDriverRepository,
    MemoryDriverStore,
    MemoryOutbox,
)
from evcms.storage.invoices import MemoryInvoiceRepository
from evcms.storage.memory import MemoryDatabase, MemoryMessageLog, MemoryStationRepository
from evcms.web.app import create_app
from evcms.web.deps import WebDeps

URL = "/api/v1/invoices"
ME = "/api/v1/me/invoices"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SELLER = Party("EV Charge Ltd", "1 Vitosha Blvd, Sofia", "BG", "BG123456789", "204567890")
CHARGE_LINES = (
    ChargeLine(LineKind.ENERGY, Decimal("12.345"), Decimal("3.09"), Decimal("0.62"), Decimal(20)),
    ChargeLine(LineKind.FLAT, Decimal(1), Decimal("0.50"), Decimal("0.10"), Decimal("20.00")),
)


@dataclass
class InvoiceWeb:
    client: httpx.AsyncClient
    accounts: DriverAccounts
    invoicing: Invoicing
    clock: FixedClock
    keys: dict[Role, str]
    deps: WebDeps

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    async def driver(self, email: str) -> tuple[str, dict[str, str]]:
        driver = await self.accounts.register(email, DRIVER_PASSWORD)
        login = await self.accounts.login(email, DRIVER_PASSWORD)
        return driver.id, {"Authorization": f"Bearer {login.token}"}

    async def receipt(self, session_id: int, driver_id: str, language: str = "en") -> Invoice:
        return await self.invoicing.receipt_for_session(
            SessionCharge(session_id, "EUR", CHARGE_LINES),
            SessionFacts("CP-1", T0, T0 + timedelta(hours=1), Decimal("12345")),
            driver_id=driver_id,
            buyer=Party("Иван Петров" if language == "bg" else "Jane Driver"),
            language=language,
            paid_by="card",
        )


@pytest.fixture
async def web() -> AsyncIterator[InvoiceWeb]:
    db = MemoryDatabase()
    clock = FixedClock(T0)
    bus = InProcessBus()
    stations = MemoryStationRepository(db)
    commands = FakeStationCommands()
    core = await core_services(db, stations, clock, bus, commands)
    store = MemoryDriverStore()
    accounts = DriverAccounts(
        drivers=MemoryDriverRepository(store),
        tokens=MemoryDriverAuthTokenRepository(store),
        mailer=NoMailer(),
        outbox=MemoryOutbox(store),
        hasher=PlainHasher(),
        clock=clock,
        policy=DriverPolicy(require_verified_email=False),
    )
    invoicing = Invoicing(
        invoices=MemoryInvoiceRepository(), renderer=InvoicePdfRenderer(), clock=clock, seller=SELLER
    )
    deps = WebDeps(
        network=core.network,
        access=core.access,
        operations=RemoteOperations(commands=commands),
        message_log=MemoryMessageLog(db),
        metrics=lambda: (METRICS_BODY, METRICS_TYPE),
        health=Health(),
        ocpp_url=OCPP_URL,
        drivers=accounts,
        clock=clock,
        invoicing=invoicing,
    )
    transport = httpx.ASGITransport(app=create_app(deps))
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        yield InvoiceWeb(client, accounts, invoicing, clock, core.keys, deps)
    await bus.close()


def pdf_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages).replace("\u00a0", " ")


async def test_operators_read_documents_with_string_amounts(web: InvoiceWeb) -> None:
    driver_id, _ = await web.driver("jane@example.com")
    receipt = await web.receipt(42, driver_id)
    answer = await web.client.get(f"{URL}/{receipt.id}", headers=web.auth(Role.VIEWER))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["number"], body["kind"], body["series"], body["sequence"]) == (
        "R-0000000001", "receipt", "R", 1
    )
    assert (body["total_excl_vat"], body["total_vat"], body["total_incl_vat"]) == ("3.59", "0.72", "4.31")
    assert body["tax_totals"] == [{"vat_percent": "20", "excl_vat": "3.59", "vat": "0.72"}]
    energy, flat = body["lines"]
    assert energy == {
        "kind": "ENERGY", "description": "Energy", "quantity": "12.345", "unit": "kWh",
        "unit_price_excl_vat": "0.2503", "vat_percent": "20", "excl_vat": "3.09", "vat": "0.62",
        "incl_vat": "3.71", "session_id": 42,
        "session": {
            "station_id": "CP-1", "connector": None, "started_at": "2026-03-01T12:00:00Z",
            "ended_at": "2026-03-01T13:00:00Z", "energy_kwh": "12.345",
        },
    }
    assert (flat["unit_price_excl_vat"], flat["vat_percent"]) == (None, "20")
    assert (body["payment_status"], body["paid_by"], body["driver_id"]) == ("paid", "card", driver_id)
    assert body["seller"]["vat_id"] == "BG123456789" and body["buyer"]["name"] == "Jane Driver"
    assert body["session_ids"] == [42]
    missing = await web.client.get(f"{URL}/nope", headers=web.auth())
    assert missing.status_code == 404 and "no invoice nope" in missing.json()["detail"]


async def test_listing_filters_and_pages(web: InvoiceWeb) -> None:
    jane, _ = await web.driver("jane@example.com")
    ivan, _ = await web.driver("ivan@example.com")
    first = await web.receipt(1, jane)
    web.clock.advance(60)
    second = await web.receipt(2, ivan)
    web.clock.advance(60)
    credit = await web.invoicing.credit_note(first.id, reason="wrong")
    listed = await web.client.get(URL, headers=web.auth(Role.VIEWER))
    assert [i["number"] for i in listed.json()["invoices"]] == [
        "CN-0000000001", "R-0000000002", "R-0000000001"
    ]
    by_driver = await web.client.get(URL, params={"driver_id": jane}, headers=web.auth())
    assert [i["id"] for i in by_driver.json()["invoices"]] == [credit.id, first.id]
    receipts = await web.client.get(URL, params={"kind": "receipt", "limit": 1, "offset": 1}, headers=web.auth())
    assert [i["id"] for i in receipts.json()["invoices"]] == [first.id]
    assert (receipts.json()["limit"], receipts.json()["offset"]) == (1, 1)
    assert second.id in {i["id"] for i in listed.json()["invoices"]}
    bad = await web.client.get(URL, params={"kind": "bill", "limit": 0}, headers=web.auth())
    assert bad.status_code == 422


async def test_the_pdf_is_the_document_in_its_language(web: InvoiceWeb) -> None:
    ivan, _ = await web.driver("ivan@example.com")
    receipt = await web.receipt(42, ivan, language="bg")
    answer = await web.client.get(f"{URL}/{receipt.id}/pdf", headers=web.auth(Role.VIEWER))
    assert answer.headers["content-disposition"] == 'inline; filename="R-0000000001.pdf"'
    text = pdf_text(answer)
    assert "Разписка" in text and "R-0000000001" in text and "Иван Петров" in text
    assert "Обща сума 4,31 €" in text
    missing = await web.client.get(f"{URL}/nope/pdf", headers=web.auth())
    assert missing.status_code == 404


async def test_operators_credit_a_document_once(web: InvoiceWeb) -> None:
    jane, _ = await web.driver("jane@example.com")
    receipt = await web.receipt(42, jane)
    path = f"{URL}/{receipt.id}/credit-note"
    for role in (Role.VIEWER, Role.TECHNICIAN):
        refused = await web.client.post(path, json={"reason": "x"}, headers=web.auth(role))
        assert refused.status_code == 403
    created = await web.client.post(path, json={"reason": "charged twice"}, headers=web.auth(Role.OPERATOR))
    assert created.status_code == 201, created.text
    credit = created.json()
    assert (credit["kind"], credit["number"], credit["corrects_id"], credit["corrects_number"]) == (
        "credit_note", "CN-0000000001", receipt.id, "R-0000000001"
    )
    assert (credit["total_incl_vat"], credit["note"]) == ("-4.31", "charged twice")
    assert credit["lines"][0]["quantity"] == "-12.345"
    again = await web.client.post(path, json={"reason": "again"}, headers=web.auth())
    assert again.status_code == 201 and again.json()["id"] == credit["id"]
    of_credit = await web.client.post(
        f"{URL}/{credit['id']}/credit-note", json={"reason": "undo"}, headers=web.auth()
    )
    assert of_credit.status_code == 409 and "credit notes cannot be credited" in of_credit.json()["detail"]
    for body in ({"reason": ""}, {}, {"reason": "x", "amount": "1.00"}):
        invalid = await web.client.post(path, json=body, headers=web.auth())
        assert invalid.status_code == 422
    unknown = await web.client.post(f"{URL}/nope/credit-note", json={"reason": "x"}, headers=web.auth())
    assert unknown.status_code == 404
    pdf = pdf_text(await web.client.get(f"{URL}/{credit['id']}/pdf", headers=web.auth()))
    assert "Credit note" in pdf and "Corrects document R-0000000001" in pdf and "-€4.31" in pdf


async def test_drivers_see_only_their_own(web: InvoiceWeb) -> None:
    jane, jane_auth = await web.driver("jane@example.com")
    ivan, ivan_auth = await web.driver("ivan@example.com")
    mine = await web.receipt(1, jane)
    theirs = await web.receipt(2, ivan, language="bg")
    listed = await web.client.get(ME, headers=jane_auth)
    assert listed.status_code == 200, listed.text
    assert [i["id"] for i in listed.json()["invoices"]] == [mine.id]
    assert (await web.client.get(f"{ME}/{mine.id}", headers=jane_auth)).json()["number"] == "R-0000000001"
    text = pdf_text(await web.client.get(f"{ME}/{mine.id}/pdf", headers=jane_auth))
    assert "Receipt" in text and "Jane Driver" in text
    for path in (f"{ME}/{theirs.id}", f"{ME}/{theirs.id}/pdf"):
        other = await web.client.get(path, headers=jane_auth)
        assert other.status_code == 404
    assert [i["id"] for i in (await web.client.get(ME, headers=ivan_auth)).json()["invoices"]] == [theirs.id]
    # each kind of credential stays on its own side
    assert (await web.client.get(ME, headers=web.auth())).status_code == 403
    assert (await web.client.get(URL, headers=jane_auth)).status_code == 403
    assert (await web.client.get(ME)).status_code == 401
    assert (await web.client.get(URL)).status_code == 401


async def test_without_the_service_the_endpoints_answer_503(web: InvoiceWeb) -> None:
    _, jane_auth = await web.driver("jane@example.com")
    app = create_app(replace(web.deps, invoicing=None))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evcms.test") as client:
        for path, headers in ((URL, web.auth()), (f"{URL}/x/pdf", web.auth()), (ME, jane_auth)):
            answer = await client.get(path, headers=headers)
            assert answer.status_code == 503
            assert answer.json()["detail"] == "invoicing is not enabled on this server"


async def test_the_endpoints_are_documented(web: InvoiceWeb) -> None:
    paths = (await web.client.get("/openapi.json")).json()["paths"]
    assert {
        URL, f"{URL}/{{invoice_id}}", f"{URL}/{{invoice_id}}/pdf", f"{URL}/{{invoice_id}}/credit-note",
        ME, f"{ME}/{{invoice_id}}", f"{ME}/{{invoice_id}}/pdf",
    } <= set(paths)
    assert "application/pdf" in paths[f"{URL}/{{invoice_id}}/pdf"]["get"]["responses"]["200"]["content"]
