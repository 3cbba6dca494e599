// One station: live connectors and the running session's power chart, remote operations (with
// confirmation and the station's answer), configuration, alerts, diagnostics, firmware, the
// operations sent to it and its raw OCPP message log.
import {
  answerText, connectorName, debounce, errorAnswer, label, onlineBadge, pager, powerChart,
  sampleColumns, stateBadge, subscribe,
} from "../lib/console_core.js";

const TRIGGERS_16 = ["BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "FirmwareStatusNotification", "DiagnosticsStatusNotification"];
const TRIGGERS_201 = ["BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "TransactionEvent", "FirmwareStatusNotification", "LogStatusNotification", "SignChargingStationCertificate"];

export async function render(root, ctx) {
  const { h, t, fmt, ui } = ctx;
  const id = ctx.params.id;
  const path = `/stations/${encodeURIComponent(id)}`;
  let station = await ctx.get(path);
  const v16 = String(station.ocpp_version || (station.presence && station.presence.ocpp_version) || "").includes("1.6");
  const canOperate = ctx.may("operate_stations");
  const cleanups = [];

  const header = h("div", { id: "station-header" });
  const connectorsBox = h("div", { id: "station-connectors" });
  const chartTitle = h("div", { class: "muted", id: "station-chart-title" });
  const chartBox = h("div", { id: "station-chart" });
  const operationsBox = h("div", { id: "station-operations" });
  const answerBox = h("div", { id: "operation-answer", class: "answer", role: "status" });
  const configBox = h("div", { id: "station-configuration" });
  const alertsBox = h("div", { id: "station-alerts" });
  const diagnosticsBox = h("div", { id: "station-diagnostics" });
  const firmwareBox = h("div", { id: "station-firmware" });
  const auditBox = h("div", { id: "station-audit" });
  const logBox = h("div", { id: "station-messages" });

  root.append(
    h("p", {}, h("a", { href: "#/stations" }, `← ${t("Stations")}`)),
    header,
    h("h2", {}, t("Connectors")), connectorsBox,
    h("h2", {}, t("Running session")), chartTitle, chartBox,
    ...(canOperate ? [h("h2", {}, t("Remote operations")), operationsBox] : []),
    answerBox,
    h("h2", {}, t("Configuration")), configBox,
    h("h2", {}, t("Alerts")), alertsBox,
    h("div", { class: "grid2" },
      h("div", {}, h("h2", {}, t("Diagnostics")), diagnosticsBox),
      h("div", {}, h("h2", {}, t("Firmware")), firmwareBox)),
    h("h2", {}, t("Operations sent")), auditBox,
    h("h2", {}, t("Message log")), logBox,
  );

  // -- header and connectors ---------------------------------------------------------------
  function drawHeader() {
    const info = station.info || {};
    ui.clear(header,
      h("h1", {}, station.name && station.name !== station.id ? `${station.name} (${station.id})` : station.id, " ",
        onlineBadge(station), " ", station.registration !== "Accepted" ? stateBadge(station.registration) : null),
      h("dl", { class: "facts" },
        h("dt", {}, t("Model")), h("dd", {}, info.vendor ? `${info.vendor} ${info.model}` : "–"),
        h("dt", {}, t("Firmware")), h("dd", {}, info.firmware_version || "–"),
        h("dt", {}, t("Serial number")), h("dd", {}, info.serial_number || "–"),
        h("dt", {}, t("OCPP")), h("dd", {}, station.ocpp_version || "–"),
        h("dt", {}, t("Site")), h("dd", {}, station.site_id || "–"),
        h("dt", {}, t("Last message")), h("dd", {}, fmt.datetime(station.presence && station.presence.last_message_at)),
        h("dt", {}, t("Last boot")), h("dd", {}, fmt.datetime(station.last_boot_at))));
  }

  function drawConnectors() {
    ui.clear(connectorsBox, ui.table([
      { label: t("Connector"), value: (c) => connectorName(c) },
      { label: t("Status"), value: (c) => stateBadge(c.status, "connector-status") },
      { label: t("Error"), value: (c) => (c.error_code && c.error_code !== "NoError" ? [c.error_code, c.vendor_error_code ? ` (${c.vendor_error_code})` : "", c.info ? ` · ${c.info}` : ""] : "–") },
      { label: t("Power"), num: true, value: (c) => h("span", { class: "power" }, c.session ? fmt.kw(c.session.power_w) : "–") },
      { label: t("Energy"), num: true, value: (c) => (c.session ? fmt.kwh(c.session.energy_wh) : "–") },
      { label: t("Session"), value: (c) => (c.session ? [h("a", { href: `#/sessions/${c.session.session_id}` }, `#${c.session.session_id}`),
        canOperate ? [" ", h("button", { type: "button", class: "danger stop-session", onclick: () => stopSession(c.session.session_id) }, t("Stop remotely"))] : null] : "–") },
      { label: t("Since"), value: (c) => fmt.ago(c.updated_at) },
    ], station.connectors || [], { empty: t("The station has not reported its connectors yet."), rowId: (c) => `${c.evse_id}-${c.connector_id}` }));
  }

  // -- the running session's chart ---------------------------------------------------------
  let chart = null;
  let chartSession;  // undefined until the first showSession
  let buffered = null;  // live samples that arrive while the stored ones load
  async function showSession(sessionId) {
    if (chartSession === sessionId) return;
    if (chart) { chart.destroy(); chart = null; }
    ui.clear(chartBox);
    chartSession = sessionId;
    if (!sessionId) {
      chartTitle.textContent = t("No session is running.");
      return;
    }
    chartTitle.replaceChildren(h("a", { href: `#/sessions/${sessionId}` }, t("Session {id}", { id: sessionId })));
    const inner = h("div");
    chartBox.append(inner);
    chart = powerChart(ctx, inner);
    buffered = [];
    try {
      const [session, samples] = await Promise.all([ctx.get(`/sessions/${sessionId}`), ctx.get(`/sessions/${sessionId}/samples`)]);
      if (chartSession !== sessionId) return;
      const cols = sampleColumns(samples.samples, session.meter_start_wh);
      chart.set(cols.times, cols.power, cols.energy);
      const last = cols.times.length ? new Date(cols.times[cols.times.length - 1]).getTime() : -Infinity;
      for (const e of buffered || []) if (new Date(e.at).getTime() > last) chart.push(e.at, e.power_w, e.energy_wh);
    } catch (exc) {
      chartBox.append(h("p", { class: "error" }, exc.message));
    } finally {
      if (chartSession === sessionId) buffered = null;
    }
  }
  function runningSession() {
    const c = (station.connectors || []).find((x) => x.session);
    return c ? c.session.session_id : null;
  }

  // -- remote operations -------------------------------------------------------------------
  function evseOptions(withWhole) {
    const evses = [...new Set((station.connectors || []).map((c) => c.evse_id))];
    if (!evses.length) evses.push(1);
    return [...(withWhole ? [["", t("Whole station")]] : []), ...evses.map((e) => [String(e), `#${e}`])];
  }

  async function send(description, request, { danger = false } = {}) {
    if (!(await ui.confirmDialog(t("{operation} on {station}?", { operation: description, station: station.id }), { danger }))) return;
    ui.clear(answerBox, h("span", { class: "muted" }, t("Waiting for the station's answer…")));
    answerBox.dataset.state = "waiting";
    try {
      const op = await request();
      ui.clear(answerBox, h("strong", {}, description), ": ", answerText(op));
      answerBox.dataset.state = op.outcome === "result" ? (op.status || "result") : op.outcome;
    } catch (exc) {
      ui.clear(answerBox, h("strong", {}, description), ": ", h("span", { class: "error" }, errorAnswer(exc)));
      answerBox.dataset.state = "error";
    }
    loadAudit();
  }
  async function stopSession(sessionId) {
    await send(t("Stop session {id}", { id: sessionId }), async () => {
      const reply = await ctx.post(`/sessions/${sessionId}/stop`);
      // the stop answers like the pass-through (OcppResult / OcppError): shape it as an operation
      return reply.error_code || reply.outcome === "error"
        ? { outcome: "error", error_code: reply.error_code, error_description: reply.error_description }
        : { outcome: "result", status: reply.payload && reply.payload.status };
    }, { danger: true });
  }
  const op = (name, body) => () => ctx.post(`${path}/operations/${name}`, body);
  const num = (value) => (value === "" || value === undefined ? null : Number(value));

  function drawOperations() {
    if (!canOperate) return;
    const resetType = h("select", { id: "op-reset-type", "aria-label": t("Reset type") },
      (v16 ? ["Soft", "Hard"] : ["OnIdle", "Immediate"]).map((x) => h("option", { value: x }, x)));
    const availEvse = h("select", { id: "op-availability-evse", "aria-label": t("Connector") }, evseOptions(true).map(([v, l]) => h("option", { value: v }, l)));
    const unlockEvse = h("select", { id: "op-unlock-evse", "aria-label": t("Connector") }, evseOptions(false).map(([v, l]) => h("option", { value: v }, l)));
    const trigger = h("select", { id: "op-trigger-message", "aria-label": t("Message") },
      (v16 ? TRIGGERS_16 : TRIGGERS_201).map((x) => h("option", { value: x }, x)));
    const button = (bid, text, onclick, cls) => h("button", { type: "button", id: bid, class: cls, onclick }, text);
    const availability = (status) => () => {
      const evse = num(availEvse.value);
      const body = { status, evse_id: evse };
      if (evse !== null) body.connector_id = v16 ? evse : 1;
      return send(status === "Operative" ? t("Make available") : t("Make unavailable"), op("change-availability", body));
    };
    ui.clear(operationsBox,
      h("div", { class: "op-grid" },
        h("div", { class: "op" }, h("span", {}, t("Reset")), resetType,
          button("op-reset", t("Reset"), () => send(t("Reset ({type})", { type: resetType.value }), op("reset", { type: resetType.value }), { danger: true }), "danger")),
        h("div", { class: "op" }, h("span", {}, t("Availability")), availEvse,
          button("op-operative", t("Make available"), availability("Operative"), "secondary"),
          button("op-inoperative", t("Make unavailable"), availability("Inoperative"), "secondary")),
        h("div", { class: "op" }, h("span", {}, t("Unlock connector")), unlockEvse,
          button("op-unlock", t("Unlock"), () => {
            const evse = Number(unlockEvse.value);
            return send(t("Unlock connector #{evse}", { evse }), op("unlock-connector", { evse_id: evse, connector_id: v16 ? evse : 1 }));
          }, "secondary")),
        h("div", { class: "op" }, h("span", {}, t("Trigger message")), trigger,
          button("op-trigger", t("Trigger"), () => send(t("Trigger {message}", { message: trigger.value }), op("trigger-message", { message: trigger.value })), "secondary")),
        h("div", { class: "op" }, h("span", {}, t("Authorisation cache")),
          button("op-clear-cache", t("Clear cache"), () => send(t("Clear the authorisation cache"), op("clear-cache")), "secondary")),
      ));
  }

  // -- configuration -----------------------------------------------------------------------
  let configFilter = "";
  async function loadConfig() {
    let config;
    try {
      config = await ctx.get(`${path}/configuration`);
    } catch (exc) {
      ui.clear(configBox, h("p", { class: "error" }, exc.message));
      return;
    }
    const filter = h("input", { type: "search", id: "config-filter", value: configFilter, placeholder: t("Filter"), "aria-label": t("Filter") });
    const refresh = canOperate ? h("button", { type: "button", id: "config-refresh", class: "secondary", onclick: refreshConfig },
      v16 ? t("Ask the station (GetConfiguration)") : t("Ask the station (GetBaseReport)")) : null;
    const rows = h("div");
    const draw = () => {
      const q = configFilter.toLowerCase();
      if (v16 || (config.keys.length && !config.variables.length)) {
        const keys = config.keys.filter((k) => !q || k.key.toLowerCase().includes(q) || String(k.value || "").toLowerCase().includes(q));
        ui.clear(rows, ui.table([
          { label: t("Key"), value: (k) => h("span", { class: "mono" }, k.key) },
          { label: t("Value"), value: (k) => h("span", { class: "mono" }, k.value ?? "–") },
          { label: t("Read-only"), value: (k) => (k.readonly ? t("yes") : t("no")) },
          { label: t("Reported"), value: (k) => fmt.datetime(k.reported_at) },
        ], keys, { empty: t("No configuration reported yet.") }));
      } else {
        const vars = config.variables.filter((v) => !q || `${v.component} ${v.variable} ${v.value || ""}`.toLowerCase().includes(q));
        ui.clear(rows, ui.table([
          { label: t("Component"), value: (v) => h("span", { class: "mono" }, [v.component, v.component_instance ? `[${v.component_instance}]` : "", v.evse_id ? ` #${v.evse_id}` : ""].join("")) },
          { label: t("Variable"), value: (v) => h("span", { class: "mono" }, v.variable + (v.variable_instance ? `[${v.variable_instance}]` : "") + (v.attribute_type !== "Actual" ? ` (${v.attribute_type})` : "")) },
          { label: t("Value"), value: (v) => h("span", { class: "mono" }, `${v.value ?? "–"}${v.unit ? ` ${v.unit}` : ""}`) },
          { label: t("Mutability"), value: (v) => v.mutability || "–" },
          { label: t("Reported"), value: (v) => fmt.datetime(v.reported_at) },
        ], vars.slice(0, 500), { empty: t("No configuration reported yet.") }));
      }
    };
    filter.addEventListener("input", () => { configFilter = filter.value; draw(); });
    draw();
    ui.clear(configBox,
      h("div", { class: "toolbar" }, filter, refresh,
        h("span", { class: "muted", id: "config-reported" }, t("Reported {when}", { when: fmt.datetime(config.reported_at) }))),
      rows);
  }
  async function refreshConfig(event) {
    const button = event.target;
    button.disabled = true;
    try {
      const answer = v16 ? await ctx.post(`${path}/operations/GetConfiguration`, {})
        : await ctx.post(`${path}/operations/GetBaseReport`, { reportBase: "FullInventory" });
      ui.toast(answerText(answer));
      await loadConfig();
      if (!v16) setTimeout(loadConfig, 3000);  // the report arrives in NotifyReport messages
    } catch (exc) {
      ui.toast(errorAnswer(exc), { error: true });
    } finally {
      button.disabled = false;
    }
  }

  // -- alerts, diagnostics, firmware, audit, message log ------------------------------------
  async function loadAlerts() {
    try {
      const page = await ctx.get(`${path}/alerts`, { limit: 20 });
      ui.clear(alertsBox, ui.table([
        { label: t("Severity"), value: (a) => stateBadge(a.severity) },
        { label: t("Status"), value: (a) => [stateBadge(a.status), a.acknowledged ? [" ", h("span", { class: "muted" }, t("acknowledged"))] : null] },
        { label: t("Alert"), value: (a) => a.summary },
        { label: t("Opened"), value: (a) => fmt.datetime(a.opened_at) },
      ], page.alerts, { empty: t("No alerts."), onRow: (a) => ctx.navigate(`#/alerts?id=${a.id}`) }),
      h("p", {}, h("a", { href: `#/alerts?station=${encodeURIComponent(id)}` }, t("All alerts of this station"))));
    } catch (exc) {
      ui.clear(alertsBox, h("p", { class: "muted" }, exc.message));
    }
  }

  async function loadDiagnostics() {
    let page;
    try {
      page = await ctx.get(`${path}/diagnostics`, { limit: 10 });
    } catch (exc) {
      ui.clear(diagnosticsBox, h("p", { class: "muted" }, exc.message));
      return;
    }
    const request = canOperate ? h("button", { type: "button", id: "diagnostics-request", class: "secondary", onclick: async () => {
      if (!(await ui.confirmDialog(t("Ask {station} to upload its diagnostics?", { station: id })))) return;
      try {
        const made = await ctx.post(`${path}/diagnostics`, v16 ? {} : { log_type: "DiagnosticsLog" });
        ui.toast(t("Diagnostics requested: {progress}", { progress: label(made.progress) }));
      } catch (exc) {
        ui.toast(exc.message, { error: true });
      }
      loadDiagnostics();
    } }, t("Request diagnostics")) : null;
    ui.clear(diagnosticsBox, request, ui.table([
      { label: t("Requested"), value: (d) => fmt.datetime(d.created_at) },
      { label: t("Progress"), value: (d) => stateBadge(d.progress) },
      { label: t("Station status"), value: (d) => d.station_status || "–" },
      { label: t("File"), value: (d) => (d.file ? h("button", { type: "button", class: "secondary", onclick: () => ctx.download(d.file.download, null, d.file.name) },
        `${d.file.name} (${fmt.number(d.file.size)} B)`) : "–") },
    ], page.requests, { empty: t("No diagnostics requested yet.") }));
  }

  async function loadFirmware() {
    try {
      const page = await ctx.get("/firmware/updates", { station_id: id, limit: 10 });
      ui.clear(firmwareBox,
        h("p", {}, t("Installed: {version}", { version: (station.info && station.info.firmware_version) || "–" })),
        ui.table([
          { label: t("Requested"), value: (u) => fmt.datetime(u.created_at) },
          { label: t("State"), value: (u) => stateBadge(u.state) },
          { label: t("Station status"), value: (u) => [u.station_status || "–", u.detail ? h("div", { class: "muted" }, u.detail) : null] },
          { label: t("Updated"), value: (u) => fmt.ago(u.updated_at) },
        ], page.updates, { empty: t("No firmware update sent yet.") }),
        h("p", {}, h("a", { href: "#/firmware" }, t("Firmware files and rollouts"))));
    } catch (exc) {
      ui.clear(firmwareBox, h("p", { class: "muted" }, exc.message));
    }
  }

  async function loadAudit() {
    try {
      const page = await ctx.get(`${path}/operations`, { limit: 10 });
      ui.clear(auditBox, ui.table([
        { label: t("When"), value: (o) => fmt.datetime(o.requested_at) },
        { label: t("Who"), value: (o) => o.requested_by },
        { label: t("Operation"), value: (o) => o.action },
        { label: t("Answer"), value: (o) => answerText(o) },
      ], page.operations, { empty: t("No operation sent yet.") }),
      h("p", {}, h("a", { href: `#/operations?station=${encodeURIComponent(id)}` }, t("All operations of this station"))));
    } catch (exc) {
      ui.clear(auditBox, h("p", { class: "muted" }, exc.message));
    }
  }

  const actions = new Map();  // message id -> action, to name the answers
  const logRows = h("tbody");
  const frame = (m) => {
    const msg = Array.isArray(m.message) ? m.message : [];
    const kind = { 2: "CALL", 3: "RESULT", 4: "ERROR" }[msg[0]] || "?";
    if (kind === "CALL") actions.set(msg[1], msg[2]);
    return { kind, action: kind === "CALL" ? msg[2] : actions.get(msg[1]) || "" };
  };
  const logPager = pager(async (before, reset) => {
    const page = await ctx.get(`${path}/messages`, { limit: 50, before_id: before });
    if (reset) { logRows.replaceChildren(); actions.clear(); }
    // calls come before their answers in time; the page is newest first
    const framed = [...page.messages].reverse().map((m) => [m, frame(m)]).reverse();
    for (const [m, f] of framed) {
      logRows.append(h("tr", { "data-id": m.id },
        h("td", {}, fmt.datetime(m.at)),
        h("td", {}, m.direction === "in" ? t("from the station") : t("to the station")),
        h("td", {}, f.kind, " ", h("strong", {}, f.action)),
        h("td", { class: "mono raw" }, m.raw.length > 400 ? `${m.raw.slice(0, 400)}…` : m.raw)));
    }
    if (!logRows.children.length) logRows.append(h("tr", {}, h("td", { colspan: 4, class: "empty" }, t("No messages logged."))));
    return page.next_before_id;
  });
  ui.clear(logBox,
    h("div", { class: "toolbar" }, h("button", { type: "button", class: "secondary", id: "messages-refresh", onclick: () => logPager.reload() }, t("Refresh"))),
    h("table", { class: "data messages" },
      h("thead", {}, h("tr", {}, h("th", {}, t("When")), h("th", {}, t("Direction")), h("th", {}, t("Message")), h("th", {}, t("Frame")))),
      logRows),
    logPager.button);

  drawHeader();
  drawConnectors();
  drawOperations();

  // -- live --------------------------------------------------------------------------------
  const redrawConnectors = debounce(drawConnectors, 100);
  const reloadStation = debounce(async () => {
    station = await ctx.get(path);
    drawHeader(); drawConnectors();
    showSession(runningSession());
  }, 300);
  const reloadAlerts = debounce(loadAlerts, 300);
  const reloadAudit = debounce(loadAudit, 300);
  const reloadDiagnostics = debounce(loadDiagnostics, 300);
  const reloadFirmware = debounce(loadFirmware, 300);
  const connector = (e) => (station.connectors || []).find((c) => c.evse_id === e.evse_id && c.connector_id === e.connector_id)
    || (station.connectors || []).find((c) => c.evse_id === e.evse_id);

  cleanups.push(subscribe(ctx, ["connector.status", "station.connected", "station.disconnected", "station.booted",
    "session.started", "session.updated", "session.ended", "meter.sample", "alert", "operation.finished",
    "diagnostics.status", "firmware.status"], (e, type) => {
    if (e.station_id !== id) return;
    switch (type) {
      case "connector.status": {
        const c = connector(e);
        if (!c || c.connector_id !== e.connector_id) { reloadStation(); return; }
        Object.assign(c, { status: e.status, error_code: e.error_code, info: e.info, vendor_error_code: e.vendor_error_code, updated_at: e.at });
        redrawConnectors();
        return;
      }
      case "station.connected":
      case "station.disconnected":
        station.presence = { ...(station.presence || {}), connected: type === "station.connected", last_message_at: e.at };
        drawHeader();
        return;
      case "station.booted": reloadStation(); return;
      case "session.started":
      case "session.updated":
      case "session.ended": {
        const c = connector(e);
        if (!c) { reloadStation(); return; }
        c.session = type === "session.ended" ? null : { session_id: e.session_id, transaction_id: e.transaction_id, started_at: e.started_at,
          id_token: e.id_token, energy_wh: e.energy_wh, power_w: e.power_w, soc_percent: e.soc_percent, last_sample_at: e.last_sample_at };
        redrawConnectors();
        if (type === "session.ended" && chartSession === e.session_id) {
          chartTitle.replaceChildren(h("a", { href: `#/sessions/${e.session_id}` }, t("Session {id}", { id: e.session_id })), " ", stateBadge("Ended"));
          chartSession = null;
        } else if (type === "session.started") {
          showSession(e.session_id);
        }
        return;
      }
      case "meter.sample": {
        const c = connector(e);
        if (c && c.session && c.session.session_id === e.session_id) {
          Object.assign(c.session, { power_w: e.power_w, energy_wh: e.energy_wh, soc_percent: e.soc_percent });
          redrawConnectors();
        }
        if (chartSession !== e.session_id) { if (!chartSession) showSession(e.session_id); }
        if (chart && chartSession === e.session_id) {
          if (buffered) buffered.push(e); else chart.push(e.at, e.power_w, e.energy_wh);
        }
        return;
      }
      case "alert": reloadAlerts(); return;
      case "operation.finished": reloadAudit(); return;
      case "diagnostics.status": reloadDiagnostics(); return;
      case "firmware.status": reloadFirmware(); return;
      default:
    }
  }));
  // loaded after subscribing: nothing that happens meanwhile is missed
  await Promise.all([showSession(runningSession()), loadConfig(), loadAlerts(), loadDiagnostics(), loadFirmware(), loadAudit(),
    logPager.reload().catch((exc) => logBox.append(h("p", { class: "error" }, exc.message)))]);
  return () => {
    cleanups.forEach((fn) => fn());
    [redrawConnectors, reloadStation, reloadAlerts, reloadAudit, reloadDiagnostics, reloadFirmware].forEach((d) => d.cancel());
    if (chart) chart.destroy();
  };
}
