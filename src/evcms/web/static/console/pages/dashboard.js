// Dashboard: the network at a glance, kept live by the event stream (no refresh button).
import { CONNECTOR_STATES, debounce, label, stateBadge, stationState, subscribe, todayPeriod } from "../lib/console_core.js";

export async function render(root, ctx) {
  const { h, t, fmt, ui } = ctx;
  const stations = new Map();  // id -> StationStateOut (kept current from events)
  let endedToday = { energy_kwh: "0", revenue: {} };
  let openAlerts = { count: 0, more: false, items: [] };

  const tiles = h("div", { class: "tiles", id: "dashboard-tiles" });
  const connectors = h("div", { class: "tiles", id: "dashboard-connectors" });
  const alertsBox = h("div", { id: "dashboard-alerts" });
  const sessionsBox = h("div", { id: "dashboard-sessions" });
  root.append(
    h("h1", {}, t("Dashboard")),
    tiles,
    h("h2", {}, t("Connectors by status")), connectors,
    h("div", { class: "grid2" },
      h("div", {}, h("h2", {}, t("Sessions running")), sessionsBox),
      h("div", {}, h("h2", {}, t("Open alerts")), alertsBox)),
  );

  function tile(id, labelText, value, href) {
    const el = ui.tile(labelText, value, id);
    if (href) {
      const link = h("a", { href, class: "tile-link" }, el);
      return link;
    }
    return el;
  }

  function running() {
    const list = [];
    for (const s of stations.values()) {
      for (const c of s.connectors || []) if (c.session) list.push({ station: s, connector: c, session: c.session });
    }
    return list;
  }

  let loaded = false;  // draw only once everything is loaded (events may come first)
  function draw() {
    if (!loaded) return;
    const all = [...stations.values()];
    const states = { online: 0, offline: 0, faulted: 0 };
    for (const s of all) states[stationState(s)] += 1;
    const byStatus = Object.fromEntries(CONNECTOR_STATES.map((s) => [s, 0]));
    for (const s of all) for (const c of s.connectors || []) byStatus[c.status] = (byStatus[c.status] || 0) + 1;
    const live = running();
    const liveWh = live.reduce((sum, r) => sum + Number(r.session.energy_wh || 0), 0);
    const energyWh = Number(endedToday.energy_kwh || 0) * 1000 + liveWh;
    const revenue = Object.entries(endedToday.revenue || {});
    const revenueText = revenue.length ? revenue.map(([cur, amount]) => fmt.money(amount, cur)).join(" + ") : fmt.money(0);
    ui.clear(tiles,
      tile("tile-online", t("Stations online"), fmt.number(states.online + states.faulted), "#/stations?online=yes"),
      tile("tile-offline", t("Stations offline"), fmt.number(states.offline), "#/stations?online=no"),
      tile("tile-faulted", t("Stations with a fault"), fmt.number(states.faulted), "#/stations?status=Faulted"),
      tile("tile-sessions", t("Sessions running"), fmt.number(live.length), "#/sessions"),
      tile("tile-energy", t("Energy today"), fmt.kwh(energyWh, 1)),
      tile("tile-revenue", t("Revenue today"), revenueText),
      tile("tile-alerts", t("Open alerts"), openAlerts.more ? `${fmt.number(openAlerts.count)}+` : fmt.number(openAlerts.count), "#/alerts"),
    );
    ui.clear(connectors, CONNECTOR_STATES.filter((s) => byStatus[s] || ["Available", "Charging", "Faulted", "Unavailable"].includes(s))
      .map((s) => {
        const el = ui.tile(label(s), fmt.number(byStatus[s]), `connectors-${s}`);
        el.classList.add("status-tile", `s-${s}`);
        return h("a", { href: `#/stations?status=${s}`, class: "tile-link" }, el);
      }));
    ui.clear(sessionsBox, ui.table([
      { label: t("Station"), value: (r) => h("a", { href: `#/stations/${encodeURIComponent(r.station.id)}` }, r.station.name || r.station.id) },
      { label: t("Connector"), value: (r) => `#${r.connector.evse_id}` },
      { label: t("Status"), value: (r) => stateBadge(r.connector.status) },
      { label: t("Power"), num: true, value: (r) => fmt.kw(r.session.power_w) },
      { label: t("Energy"), num: true, value: (r) => fmt.kwh(r.session.energy_wh) },
      { label: t("Started"), value: (r) => fmt.ago(r.session.started_at) },
    ], live, { empty: t("No session is running."), onRow: (r) => ctx.navigate(`#/sessions/${r.session.session_id}`) }));
    ui.clear(alertsBox, ui.table([
      { label: t("Severity"), value: (a) => stateBadge(a.severity) },
      { label: t("Station"), value: (a) => a.station_id },
      { label: t("Alert"), value: (a) => a.summary },
      { label: t("Since"), value: (a) => fmt.ago(a.opened_at) },
    ], openAlerts.items.slice(0, 8), { empty: t("No open alerts."), onRow: (a) => ctx.navigate(`#/alerts?id=${a.id}`) }));
  }

  async function loadStations() {
    const list = await ctx.get("/stations");
    stations.clear();
    for (const s of list) stations.set(s.id, s);
  }
  async function loadToday() {
    try {
      const p = todayPeriod();
      const summary = await ctx.get("/analytics/summary", { from: p.from, to: p.to, tz: p.tz });
      endedToday = { energy_kwh: summary.energy_kwh, revenue: summary.revenue_incl_vat || {} };
    } catch (exc) {
      console.warn("analytics unavailable", exc);
    }
  }
  async function loadAlerts() {
    try {
      const page = await ctx.get("/alerts", { status: "open", limit: 500 });
      openAlerts = { count: page.alerts.length, more: page.next_before_id !== null, items: page.alerts };
    } catch (exc) {
      console.warn("alerts unavailable", exc);
    }
  }
  const redraw = debounce(draw, 100);
  const refreshToday = debounce(async () => { await loadToday(); draw(); }, 1500);
  const refreshAlerts = debounce(async () => { await loadAlerts(); draw(); }, 300);
  const refreshStations = debounce(async () => { await loadStations(); draw(); }, 300);

  function connectorOf(station, evseId, connectorId) {
    return (station.connectors || []).find((c) => c.evse_id === evseId && (connectorId == null || c.connector_id === connectorId));
  }

  const off = subscribe(ctx, ["connector.status", "station.connected", "station.disconnected", "station.booted",
    "session.started", "session.updated", "session.ended", "meter.sample", "alert"], (e, type) => {
    if (type === "alert") { refreshAlerts(); return; }
    const station = stations.get(e.station_id);
    if (!station) { refreshStations(); return; }
    if (type === "station.connected" || type === "station.disconnected") {
      station.presence = { ...(station.presence || {}), connected: type === "station.connected", last_message_at: e.at };
    } else if (type === "station.booted") {
      refreshStations();
    } else if (type === "connector.status") {
      const c = connectorOf(station, e.evse_id, e.connector_id);
      if (!c) { refreshStations(); return; }
      Object.assign(c, { status: e.status, error_code: e.error_code, updated_at: e.at });
    } else if (type.startsWith("session.")) {
      const c = connectorOf(station, e.evse_id, e.connector_id) || connectorOf(station, e.evse_id);
      if (!c) { refreshStations(); return; }
      if (type === "session.ended") {
        c.session = null;
        refreshToday();
      } else {
        c.session = { session_id: e.session_id, transaction_id: e.transaction_id, started_at: e.started_at,
          id_token: e.id_token, energy_wh: e.energy_wh, power_w: e.power_w, soc_percent: e.soc_percent, last_sample_at: e.last_sample_at };
      }
    } else if (type === "meter.sample") {
      const c = connectorOf(station, e.evse_id, e.connector_id) || connectorOf(station, e.evse_id);
      if (c && c.session && c.session.session_id === e.session_id) {
        Object.assign(c.session, { energy_wh: e.energy_wh, power_w: e.power_w, soc_percent: e.soc_percent });
      }
    }
    redraw();
  });
  try {
    await Promise.all([loadStations(), loadToday(), loadAlerts()]);  // after subscribing: no event missed
  } catch (exc) {
    off();
    throw exc;
  }
  loaded = true;
  draw();
  const ticker = setInterval(draw, 30_000);  // relative times ("2 minutes ago") age
  return () => { off(); clearInterval(ticker); redraw.cancel(); refreshToday.cancel(); refreshAlerts.cancel(); refreshStations.cancel(); };
}
