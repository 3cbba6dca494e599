// Sessions: the running ones (live, from the event stream) and the history (filters, paging),
// with energy, duration and cost.
import { debounce, pager, stateBadge, subscribe } from "../lib/console_core.js";

export async function render(root, ctx) {
  const { h, t, fmt, ui } = ctx;
  const live = new Map();  // session id -> session (SessionOut-like)
  const prices = new Map();  // session id -> SessionPriceOut | null

  const liveBox = h("div", { id: "sessions-live" });
  const historyRows = h("div", { id: "sessions-history" });
  const filters = {
    station_id: ctx.params.station || "",
    id_token: ctx.params.token || "",
    status: ctx.params.status || "",
    started_from: ctx.params.from || "",
    started_until: ctx.params.until || "",
  };
  const fields = [
    ["station_id", t("Station"), "text"],
    ["id_token", t("Token"), "text"],
    ["started_from", t("Started from"), "date"],
    ["started_until", t("Started until"), "date"],
  ];
  const inputs = {};
  const filterBar = h("form", { class: "toolbar", id: "sessions-filters" });
  for (const [name, text, type] of fields) {
    inputs[name] = h("input", { name, type, value: filters[name], id: `filter-${name}` });
    filterBar.append(h("label", {}, h("span", {}, text), inputs[name]));
  }
  inputs.status = h("select", { name: "status", id: "filter-status" },
    [["", t("Running and ended")], ["Active", t("Running")], ["Ended", t("Ended")]].map(([v, l]) =>
      h("option", { value: v, selected: v === filters.status }, l)));
  filterBar.append(h("label", {}, h("span", {}, t("Status")), inputs.status), h("button", { type: "submit" }, t("Apply")));

  root.append(
    h("h1", {}, t("Sessions")),
    h("h2", {}, t("Running now")), liveBox,
    h("h2", {}, t("History")), filterBar, historyRows,
  );

  async function priceOf(sessionId) {
    if (prices.has(sessionId)) return prices.get(sessionId);
    let price = null;
    try { price = await ctx.get(`/sessions/${sessionId}/price`); } catch { price = null; }
    prices.set(sessionId, price);
    return price;
  }
  const costCell = (s) => {
    const cell = h("span", { class: "cost" }, "…");
    priceOf(s.id).then((p) => { cell.textContent = p ? fmt.money(p.total_incl_vat, p.currency) : "–"; });
    return cell;
  };

  const columns = (withCost) => [
    { label: t("Session"), value: (s) => h("a", { href: `#/sessions/${s.id}` }, `#${s.id}`) },
    { label: t("Station"), value: (s) => h("a", { href: `#/stations/${encodeURIComponent(s.station_id)}` }, s.station_id) },
    { label: t("Connector"), value: (s) => `#${s.evse_id}` },
    { label: t("Token"), value: (s) => s.id_token || "–" },
    { label: t("Status"), value: (s) => stateBadge(s.status) },
    { label: t("Started"), value: (s) => fmt.datetime(s.started_at) },
    { label: t("Duration"), num: true, value: (s) => fmt.duration(s.duration_seconds ?? (s.started_at ? (Date.now() - new Date(s.started_at).getTime()) / 1000 : null)) },
    { label: t("Power"), num: true, value: (s) => (s.status === "Active" ? fmt.kw(s.power_w) : "–") },
    { label: t("Energy"), num: true, value: (s) => fmt.kwh(s.energy_wh) },
    ...(withCost ? [{ label: t("Cost"), num: true, value: costCell }] : []),
  ];

  function drawLive() {
    const rows = [...live.values()].sort((a, b) => b.id - a.id);
    ui.clear(liveBox, ui.table(columns(false), rows, { empty: t("No session is running."), rowId: (s) => s.id,
      onRow: (s) => ctx.navigate(`#/sessions/${s.id}`) }));
  }
  async function loadLive() {
    const page = await ctx.get("/sessions", { status: "Active", limit: 200 });
    live.clear();
    for (const s of page.sessions) live.set(s.id, s);
    drawLive();
  }

  const dayStart = (d) => (d ? new Date(`${d}T00:00:00`).toISOString() : null);
  const dayEnd = (d) => (d ? new Date(new Date(`${d}T00:00:00`).getTime() + 86_400_000).toISOString() : null);
  let historyTable = null;
  const history = pager(async (before, reset) => {
    const page = await ctx.get("/sessions", {
      station_id: filters.station_id, id_token: filters.id_token, status: filters.status,
      started_from: dayStart(filters.started_from), started_until: dayEnd(filters.started_until),
      limit: 50, before_id: before,
    });
    if (reset || !historyTable) {
      historyTable = ui.table(columns(true), page.sessions, { empty: t("No session matches."), rowId: (s) => s.id,
        onRow: (s) => ctx.navigate(`#/sessions/${s.id}`) });
      ui.clear(historyRows, historyTable);
    } else {
      const more = ui.table(columns(true), page.sessions, { rowId: (s) => s.id, onRow: (s) => ctx.navigate(`#/sessions/${s.id}`) });
      historyTable.querySelector("tbody").append(...more.querySelector("tbody").children);
    }
    return page.next_before_id;
  });
  historyRows.after(history.button);
  filterBar.addEventListener("submit", (event) => {
    event.preventDefault();
    for (const [name, input] of Object.entries(inputs)) filters[name] = input.value.trim();
    history.reload().catch((exc) => ui.toast(exc.message, { error: true }));
  });

  const redraw = debounce(drawLive, 150);
  const reloadHistory = debounce(() => history.reload(), 2000);
  const off = subscribe(ctx, ["session.started", "session.updated", "session.ended", "meter.sample"], (e, type) => {
    if (type === "meter.sample") {
      const s = live.get(e.session_id);
      if (!s) return;
      Object.assign(s, { power_w: e.power_w, energy_wh: e.energy_wh, soc_percent: e.soc_percent });
    } else if (type === "session.ended") {
      live.delete(e.session_id);
      prices.delete(e.session_id);
      reloadHistory();
    } else {
      const known = live.get(e.session_id) || {};
      live.set(e.session_id, { ...known, id: e.session_id, station_id: e.station_id, evse_id: e.evse_id,
        connector_id: e.connector_id, id_token: e.id_token, status: e.status, started_at: e.started_at,
        power_w: e.power_w, energy_wh: e.energy_wh, duration_seconds: null });
      if (type === "session.started") reloadHistory();
    }
    redraw();
  });
  await Promise.all([loadLive(), history.reload()]);

  const ticker = setInterval(drawLive, 15_000);  // durations grow
  return () => { off(); clearInterval(ticker); redraw.cancel(); reloadHistory.cancel(); };
}
