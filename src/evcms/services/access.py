"""API keys: issuing, authenticating and revoking them.

A key is ``evk_<id>_<secret>``; only a SHA-256 of the whole key is stored. Keys are 256-bit
random, so a fast hash is safe (argon2 is for passwords people choose) and lets every API call
authenticate in microseconds.
"""

from __future__ import annotations

import hashlib
import secrets

from evcms.domain.access import ApiKey, Role
from evcms.services.ports import ApiKeyRepository, Clock

KEY_PREFIX = "evk_"


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AccessControl:
    def __init__(self, *, keys: ApiKeyRepository, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock

    async def create_key(self, name: str, role: Role) -> tuple[ApiKey, str]:
        """Returns the stored key and the secret, which is shown once and never again."""
        key_id = secrets.token_hex(6)
        secret = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(
            id=key_id,
            name=name,
            role=role,
            secret_hash=hash_key(secret),
            created_at=self._clock.now(),
        )
        await self._keys.add(key)
        return key, secret

    async def authenticate(self, secret: str) -> ApiKey | None:
        if not secret.startswith(KEY_PREFIX):
            return None
        key = await self._keys.find_by_hash(hash_key(secret))
        if key is None or key.revoked:
            return None
        return key

    async def keys(self) -> list[ApiKey]:
        return await self._keys.list()

    async def revoke(self, key_id: str) -> bool:
        return await self._keys.revoke(key_id)
