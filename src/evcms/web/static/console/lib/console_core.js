// Helpers shared by the core console pages (dashboard, stations, station, sessions, session,
// alerts, operations). Text goes through t(); styles only through el.style (the CSP forbids
// style="" attributes).
import { t } from "./i18n.js";
import { h, badge } from "./ui.js";

// Translated labels of the values the API sends (connector and session states, alert fields,
// operation outcomes). Literal t() calls with the text so the catalog test sees every msgid.
function labels() {
  return {
    Available: t("Available"), Preparing: t("Preparing"), Charging: t("Charging"),
    SuspendedEV: t("Suspended by the vehicle"), SuspendedEVSE: t("Suspended by the station"),
    Finishing: t("Finishing"), Reserved: t("Reserved"), Unavailable: t("Unavailable"),
    Faulted: t("Faulted"), Occupied: t("Occupied"), Active: t("Running"), Ended: t("Ended"),
    Accepted: t("Accepted"), Pending: t("Pending"), Rejected: t("Rejected"),
    online: t("online"), offline: t("offline"), open: t("open"), resolved: t("resolved"),
    info: t("info"), warning: t("warning"), critical: t("critical"),
    result: t("answered"), error: t("error"), timeout: t("no answer"),
    disconnected: t("not connected"), rejected: t("not sent"),
    station_offline: t("Station offline"), connector_faulted: t("Connector faulted"),
    boot_loop: t("Boot loop"), stuck_preparing: t("Stuck in Preparing"),
    no_meter_values: t("No meter values"), suspended_ev: t("Suspended by the vehicle for long"),
    firmware_failed: t("Firmware update failed"), diagnostics_failed: t("Diagnostics upload failed"),
    security_event: t("Security event"),
    requested: t("requested"), in_progress: t("in progress"), installed: t("installed"),
    failed: t("failed"), timed_out: t("timed out"), not_sent: t("not sent"),
    uploading: t("uploading"), file_received: t("file received"), completed: t("completed"),
    uploaded_without_file: t("uploaded without a file"),
  };
}

export function label(value) {
  if (value === null || value === undefined || value === "") return "–";
  return labels()[value] || String(value);
}

export function stateBadge(value, extraClass) {
  const el = badge(label(value), value);
  if (extraClass) el.classList.add(extraClass);
  el.dataset.state = value ?? "";
  return el;
}

export const CONNECTOR_STATES = ["Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE",
  "Finishing", "Reserved", "Unavailable", "Faulted", "Occupied"];
export const BUSY_STATES = new Set(["Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing", "Occupied"]);

export function onlineBadge(station) {
  const on = Boolean(station.presence && station.presence.connected);
  return stateBadge(on ? "online" : "offline", "presence");
}

// A station's state: online, offline, or faulted (online with a connector in Faulted).
export function stationState(station) {
  if (!station.presence || !station.presence.connected) return "offline";
  return (station.connectors || []).some((c) => c.status === "Faulted") ? "faulted" : "online";
}

// Calls fn at most once per `ms` (the last call wins): live events come in bursts.
export function debounce(fn, ms = 300) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => { timer = null; fn(...args); }, ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

// Subscribes to several event types; returns one function that unsubscribes from all.
export function subscribe(ctx, types, fn) {
  const offs = types.map((type) => ctx.events.on(type, (data) => fn(data, type)));
  return () => offs.forEach((off) => off());
}

// What a station answered an operation (OperationOut), as a short text.
export function answerText(operation) {
  if (!operation) return "–";
  switch (operation.outcome) {
    case "result": {
      const status = operation.status || (operation.response && operation.response.status);
      return status ? t("The station answered {status}.", { status }) : t("The station answered.");
    }
    case "error":
      return t("The station answered with an error: {code} {description}",
        { code: operation.error_code || "", description: operation.error_description || "" });
    case "timeout": return t("The station did not answer in time.");
    case "disconnected": return t("The station is not connected.");
    case "rejected": return t("Not sent: {why}", { why: operation.error_description || operation.error_code || "" });
    default: return String(operation.outcome);
  }
}

// A short text of a station answer that came back as an HTTP error body (409/422/504 with
// {detail, operation}) or an ApiError.
export function errorAnswer(exc) {
  const body = exc && exc.body;
  if (body && body.operation) return answerText(body.operation);
  return exc.message || String(exc);
}

// The "Older" button of a page fetched with before_id: load(beforeId) -> next_before_id.
export function pager(load) {
  let next = null;
  const button = h("button", { type: "button", class: "secondary pager", hidden: true }, t("Older"));
  const more = async (reset) => {
    button.disabled = true;
    try {
      next = await load(reset ? null : next, Boolean(reset));
      button.hidden = next === null || next === undefined;
    } finally {
      button.disabled = false;
    }
  };
  button.addEventListener("click", () => more(false));
  return { button, reload: () => more(true) };
}

// A section with a heading and a body element to fill.
export function section(title, ...children) {
  const body = h("div", { class: "section-body" });
  const el = h("section", { class: "core-section" }, h("h2", {}, title), ...children, body);
  return { el, body };
}

// Today's local midnight and the next one as YYYY-MM-DD (the analytics API's period).
export function todayPeriod() {
  const now = new Date();
  const day = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  const tomorrow = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  return { from: day(now), to: day(tomorrow), tz };
}

export function connectorName(c) {
  return c.evse_id === c.connector_id || !c.connector_id ? `#${c.evse_id}` : `#${c.evse_id}/${c.connector_id}`;
}

// The session samples (SamplesOut) as chart columns: time, power kW, session energy kWh.
export function sampleColumns(samples, meterStartWh) {
  const byTime = new Map();
  let firstEnergy = meterStartWh !== null && meterStartWh !== undefined ? Number(meterStartWh) : null;
  for (const s of samples) {
    if (s.phase) continue;  // totals only
    const row = byTime.get(s.at) || { power: null, energy: null };
    if (s.measurand === "Power.Active.Import") row.power = Number(s.value) / 1000;
    if (s.measurand === "Energy.Active.Import.Register") {
      if (firstEnergy === null) firstEnergy = Number(s.value);
      row.energy = (Number(s.value) - firstEnergy) / 1000;
    }
    byTime.set(s.at, row);
  }
  const times = [...byTime.keys()].sort();
  return {
    times,
    power: times.map((at) => byTime.get(at).power),
    energy: times.map((at) => byTime.get(at).energy),
  };
}

// A live power/energy chart: el gets data-points (how many points it shows) for tests and tools.
export function powerChart(ctx, el) {
  el.classList.add("chart");
  const chart = ctx.chart.timeChart(el, [
    { label: t("Power (kW)"), color: "#0b5cad" },
    { label: t("Energy (kWh)"), color: "#1a7f37", scale: "kwh" },
  ]);
  const count = () => { el.dataset.points = String((chart.data[0] || []).length); };
  count();
  return {
    set(times, power, energy) { chart.set(times, [power, energy]); count(); },
    push(at, powerW, energyWh) {
      chart.push(at, [powerW === null || powerW === undefined ? null : Number(powerW) / 1000,
        energyWh === null || energyWh === undefined ? null : Number(energyWh) / 1000]);
      count();
    },
    destroy() { chart.destroy(); },
  };
}
