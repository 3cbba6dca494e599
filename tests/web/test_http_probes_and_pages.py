"""/health, /metrics, the console page and the OpenAPI docs: no API key needed."""

from __future__ import annotations

import pytest
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
    # everything comes from evcms itself: no CDN, no inline script
    assert 'src="/console/app.js"' in page and "http://" not in page and "https://" not in page
    assert "<script>" not in page
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self';" in policy
    assert "unsafe-inline" not in policy


async def test_console_scripts_and_translations_are_served(web: Web) -> None:
    script = await web.client.get("/console/app.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "export const ROUTES" in script.text
    assert (await web.client.get("/console/lib/api.js")).status_code == 200
    bulgarian = (await web.client.get("/console/i18n/bg.json")).json()
    assert bulgarian["Stations"] == "Станции"
    assert (await web.client.get("/console/i18n/en.json")).json() == {}  # the msgids are English
    unknown = await web.client.get("/console/i18n/xx.json")
    assert unknown.status_code == 404
    assert "available: en, bg" in unknown.json()["detail"]


@pytest.mark.parametrize(
    "path", ["/console/../console.py", "/console/nothing.js", "/console/lib/../../console.py"]
)
async def test_console_files_outside_the_console_are_not_served(web: Web, path: str) -> None:
    assert (await web.client.get(path)).status_code == 404


async def test_a_missing_vendored_library_says_how_to_install_it(web: Web) -> None:
    response = await web.client.get("/console/vendor/not-installed.js")
    assert response.status_code == 404
    assert "make setup" in response.json()["detail"]


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
