// One live connection to GET /api/v1/events (Server-Sent Events, with the sign-in cookie) for
// the whole console; pages subscribe to the event types they show and unsubscribe on leaving.

const handlers = new Map(); // type -> Set(fn)
let source = null;
let onState = () => {};

export function liveState(handler) { onState = handler; }

export function connect() {
  if (source) return;
  source = new EventSource("/api/v1/events", { withCredentials: true });
  source.onopen = () => onState(true);
  source.onerror = () => onState(source && source.readyState === EventSource.OPEN);
  const dispatch = (message) => {
    let data;
    try { data = JSON.parse(message.data); } catch { return; }
    for (const fn of [...(handlers.get(message.type) || []), ...(handlers.get("*") || [])]) {
      try { fn(data, message.type); } catch (exc) { console.error(exc); }
    }
  };
  for (const type of KNOWN_TYPES) source.addEventListener(type, dispatch);
}

export function disconnect() {
  if (source) source.close();
  source = null;
  onState(false);
}

// on("connector.status", data => ...) -> unsubscribe function. "*" gets every event.
export function on(type, fn) {
  if (!handlers.has(type)) handlers.set(type, new Set());
  handlers.get(type).add(fn);
  return () => handlers.get(type).delete(fn);
}

export const KNOWN_TYPES = [
  "station.connected", "station.disconnected", "station.booted", "connector.status",
  "session.started", "session.updated", "session.ended", "meter.sample", "operation.finished",
  "alert", "station.security_event", "station.device_event", "firmware.status",
  "diagnostics.status",
];
