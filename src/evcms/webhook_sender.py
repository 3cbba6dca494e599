"""Webhook deliveries over HTTP (httpx): the ``services.webhooks.WebhookSender`` of production.

One pooled client; no redirects followed (a webhook URL that redirects is a configuration
error the delivery log should show); the response body is not read beyond what httpx needs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx

from evcms.domain.webhooks import AttemptOutcome


class HttpxWebhookSender:
    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client or httpx.AsyncClient(
            follow_redirects=False, limits=httpx.Limits(max_connections=64)
        )

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> AttemptOutcome:
        started = time.monotonic()
        try:
            response = await self._client.post(url, content=body, headers=dict(headers), timeout=timeout)
        except httpx.TimeoutException:
            return AttemptOutcome(None, f"no answer within {timeout:g} s", _ms(started))
        except httpx.HTTPError as exc:
            return AttemptOutcome(None, f"{type(exc).__name__}: {exc}"[:1000], _ms(started))
        error = None if response.is_success else f"HTTP {response.status_code}"
        return AttemptOutcome(response.status_code, error, _ms(started))

    async def close(self) -> None:
        await self._client.aclose()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
