"""Station life cycle: admission at the handshake, boot, heartbeat, status, presence.

Version-neutral: the station gateway's v16/v201 route tables translate OCPP messages into these
calls. State-changing calls return after the change is committed, so the gateway answers the
station only then. Presence (last message time) changes with every message, so it is kept in
memory and written in batches by ``flush_presence``; connects and disconnects are written at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from evcms.domain.events import (
    ConnectorStatusChanged,
    StationBooted,
    StationConnected,
    StationDisconnected,
)
from evcms.domain.ids import StationId
from evcms.domain.stations import (
    BootDecision,
    ConnectionVerdict,
    ConnectorState,
    Presence,
    RegistrationStatus,
    Station,
    StationInfo,
    check_credentials,
    decide_boot,
)
from evcms.services.ports import (
    AlreadyExists,
    Clock,
    EventBus,
    PasswordHasher,
    StationRepository,
)

# Station-initiated actions a station that is not (yet) accepted may still send: a Pending
# 2.0.1 station answers the CSMS's GetBaseReport with NotifyReport (B02), and security events
# are worth keeping whatever the registration.
ALLOWED_WHILE_NOT_ACCEPTED = frozenset(
    {"BootNotification", "NotifyReport", "SecurityEventNotification"}
)


@dataclass(frozen=True, slots=True)
class LifecyclePolicy:
    auto_onboard: str  # "off" | "pending" | "accept"
    allow_unsecured: bool
    heartbeat_interval: int
    pending_retry_interval: int
    # After this many wrong passwords for one station within ``lockout_seconds``, its handshakes
    # are refused without checking (no argon2 work for a password guesser) until the window ends.
    max_failed_logins: int = 5
    lockout_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class Admission:
    verdict: ConnectionVerdict
    station: Station | None = None
    onboarded: bool = False


class StationLifecycle:
    def __init__(
        self,
        *,
        stations: StationRepository,
        hasher: PasswordHasher,
        events: EventBus,
        clock: Clock,
        policy: LifecyclePolicy,
    ) -> None:
        self._stations = stations
        self._hasher = hasher
        self._events = events
        self._clock = clock
        self._policy = policy
        self._registration: dict[StationId, RegistrationStatus] = {}
        self._presence: dict[StationId, Presence] = {}
        self._boots_asked: set[StationId] = set()
        self._failed_logins: dict[StationId, tuple[int, datetime]] = {}  # count, first failure
        self._last_message: dict[StationId, datetime] = {}
        # (station id, password hash) -> digest of the password that last verified, so a
        # reconnecting station does not pay for argon2 again while its credentials are unchanged.
        self._verified: dict[tuple[StationId, str], bytes] = {}

    # -- the handshake -------------------------------------------------------------------

    async def admit(self, station_id: StationId, password: str | None) -> Admission:
        """Decide whether a station may open its WebSocket."""
        station = await self._stations.get(station_id)
        if station is None:
            if self._policy.auto_onboard == "off":
                return Admission(ConnectionVerdict.UNKNOWN_STATION)
            return await self._onboard(station_id, password)
        if station.password_hash is None:
            allowed = self._policy.allow_unsecured or (
                self._policy.auto_onboard != "off"
                and station.registration is not RegistrationStatus.ACCEPTED
            )
            verdict = check_credentials(station, password_ok=None, allow_unsecured=allowed)
        else:
            if password is not None and self._locked_out(station_id):
                return Admission(ConnectionVerdict.TOO_MANY_ATTEMPTS, station)
            ok = None if password is None else await self._password_matches(station, password)
            verdict = check_credentials(station, password_ok=ok, allow_unsecured=False)
            if ok is False:
                self._failed_login(station_id)
            elif ok:
                self._failed_logins.pop(station_id, None)
        return Admission(verdict, station)

    def _locked_out(self, station_id: StationId) -> bool:
        entry = self._failed_logins.get(station_id)
        if entry is None:
            return False
        count, first = entry
        if (self._clock.now() - first).total_seconds() >= self._policy.lockout_seconds:
            del self._failed_logins[station_id]
            return False
        return count >= self._policy.max_failed_logins

    def _failed_login(self, station_id: StationId) -> None:
        count, first = self._failed_logins.get(station_id, (0, self._clock.now()))
        self._failed_logins[station_id] = (count + 1, first)

    async def _onboard(self, station_id: StationId, password: str | None) -> Admission:
        registration = (
            RegistrationStatus.ACCEPTED
            if self._policy.auto_onboard == "accept"
            else RegistrationStatus.PENDING
        )
        password_hash = None
        if password is not None:  # trust on first use: keep what it presented
            password_hash = await asyncio.to_thread(self._hasher.hash, password)
        station = Station(
            id=station_id,
            created_at=self._clock.now(),
            registration=registration,
            password_hash=password_hash,
        )
        try:
            await self._stations.add(station)
        except AlreadyExists:  # two first connections raced: judge against the stored one
            return await self.admit(station_id, password)
        return Admission(ConnectionVerdict.ALLOW, station, onboarded=True)

    async def _password_matches(self, station: Station, password: str) -> bool:
        assert station.password_hash is not None
        key = (station.id, station.password_hash)
        digest = hashlib.sha256(password.encode()).digest()
        known = self._verified.get(key)
        if known is not None and hmac.compare_digest(known, digest):
            return True
        ok = await asyncio.to_thread(self._hasher.verify, station.password_hash, password)
        if ok:
            self._verified[key] = digest
        return ok

    # -- connection and presence ------------------------------------------------------------

    async def connected(self, station: Station, ocpp_version: str) -> None:
        now = self._clock.now()
        self._registration[station.id] = station.registration
        self._last_message[station.id] = now
        presence = Presence(station.id, True, now, now, ocpp_version)
        self._presence[station.id] = presence
        await self._stations.save_presence([presence])
        self._events.publish(StationConnected(station.id, ocpp_version, now))

    async def disconnected(self, station_id: StationId, reason: str) -> None:
        now = self._clock.now()
        self._registration.pop(station_id, None)
        last = self._last_message.pop(station_id, None)
        old = self._presence.pop(station_id, None)
        presence = Presence(
            station_id, False, None, last, old.ocpp_version if old is not None else None
        )
        await self._stations.save_presence([presence])
        self._events.publish(StationDisconnected(station_id, now, reason))

    def touch(self, station_id: StationId, at: datetime) -> None:
        """A message arrived from the station (hot path: a dict write)."""
        self._last_message[station_id] = at

    def is_connected_here(self, station_id: StationId) -> bool:
        return station_id in self._presence

    def live_presence(self, station_id: StationId) -> Presence | None:
        """Presence of a station connected to this node, with its latest message time."""
        presence = self._presence.get(station_id)
        if presence is None:
            return None
        last = self._last_message.get(station_id, presence.last_message_at)
        return Presence(station_id, True, presence.connected_since, last, presence.ocpp_version)

    async def flush_presence(self) -> int:
        """Write the last-message times of connected stations; returns how many."""
        rows = [p for sid in list(self._presence) if (p := self.live_presence(sid)) is not None]
        if rows:
            await self._stations.save_presence(rows)
        return len(rows)

    def may_send(self, station_id: StationId, action: str) -> bool:
        """Whether a station may send this action given its registration status."""
        if self._registration.get(station_id) is RegistrationStatus.ACCEPTED:
            return True
        return action in ALLOWED_WHILE_NOT_ACCEPTED

    def boot_asked(self, station_id: StationId) -> None:
        """evcms asked the station to send a BootNotification (TriggerMessage): the next one
        is not a reboot."""
        self._boots_asked.add(station_id)

    def was_reboot(self, station_id: StationId) -> bool:
        """Whether the BootNotification just received means the station restarted (not one
        evcms asked for). Consumes the 'asked' mark."""
        if station_id in self._boots_asked:
            self._boots_asked.discard(station_id)
            return False
        return True

    def registration_changed(self, station_id: StationId, status: RegistrationStatus) -> None:
        if station_id in self._registration:
            self._registration[station_id] = status

    # -- station messages -----------------------------------------------------------------

    async def boot(self, station_id: StationId, info: StationInfo, ocpp_version: str) -> BootDecision:
        now = self._clock.now()
        await self._stations.record_boot(station_id, info, ocpp_version, now)
        station = await self._stations.get(station_id)
        if station is None:  # deleted by an operator while connected
            decision = BootDecision(RegistrationStatus.REJECTED, self._policy.pending_retry_interval)
        else:
            decision = decide_boot(
                station,
                heartbeat_interval=self._policy.heartbeat_interval,
                pending_retry_interval=self._policy.pending_retry_interval,
            )
        self._registration[station_id] = decision.status
        self._events.publish(StationBooted(station_id, info, decision.status, now))
        return decision

    def heartbeat(self, station_id: StationId) -> datetime:
        return self._clock.now()

    async def report_status(self, state: ConnectorState) -> None:
        await self._stations.save_connector_state(state)
        self._events.publish(ConnectorStatusChanged(state))

    def now(self) -> datetime:
        return self._clock.now()
