"""/health, /metrics, the console page and the OpenAPI docs: no API key needed."""

from __future__ import annotations

from web_harness import METRICS_BODY, Web


async def test_health_ok(web: Web) -> None:
    response = await web.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_health_not_ok_is_503(web: Web) -> None:
    web.health.report = {"status": "degraded", "database": "unreachable"}
    response = await web.client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


async def test_health_check_that_fails_is_503(web: Web) -> None:
    web.health.error = ConnectionError("database down")
    response = await web.client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "detail": "health check failed: ConnectionError"}


async def test_metrics(web: Web) -> None:
    response = await web.client.get("/metrics")
    assert response.status_code == 200
    assert response.content == METRICS_BODY
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")


async def test_console_page(web: Web) -> None:
    response = await web.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert page.startswith("<!doctype html>")
    assert "sessionStorage" in page  # the API key stays in the tab
    assert '"/api/v1"' in page and '"/stations"' in page and '"/accept"' in page
    assert "const TEXT = {" in page  # every visible string in one object
    # self-contained: nothing loaded from anywhere else
    assert "<script src" not in page and "<link" not in page and "http://" not in page
    assert "https://" not in page
    assert "default-src 'none'" in response.headers["content-security-policy"]


async def test_openapi_docs(web: Web) -> None:
    docs = await web.client.get("/docs")
    assert docs.status_code == 200
    schema = (await web.client.get("/openapi.json")).json()
    assert schema["info"]["title"] == "evcms"
    assert "/api/v1/stations/{station_id}/ocpp/{action}" in schema["paths"]
    assert "/health" in schema["paths"] and "/metrics" in schema["paths"]
    assert "/" not in schema["paths"]
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


async def test_unknown_path_is_a_json_404(web: Web) -> None:
    response = await web.client.get("/api/v1/nothing-here", headers=web.auth())
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
