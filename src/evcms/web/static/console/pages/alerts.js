// Alerts: filters (open/resolved, severity, station), acknowledge, comment, and each alert's
// history. New and changed alerts arrive live.
import { debounce, label, pager, stateBadge, subscribe } from "../lib/console_core.js";

const KINDS = ["station_offline", "connector_faulted", "boot_loop", "stuck_preparing", "no_meter_values",
  "suspended_ev", "firmware_failed", "diagnostics_failed", "security_event"];

export async function render(root, ctx) {
  const { h, t, fmt, ui } = ctx;
  const canAct = ctx.may("operate_stations");
  const filters = {
    status: ctx.params.status ?? (ctx.params.id ? "" : "open"),
    severity: ctx.params.severity || "",
    station_id: ctx.params.station || "",
    kind: ctx.params.kind || "",
    acknowledged: ctx.params.acknowledged || "",
  };
  let selected = ctx.params.id ? Number(ctx.params.id) : null;

  const select = (name, options, text) => h("label", {}, h("span", {}, text),
    h("select", { name, id: `alerts-${name}` }, options.map(([v, l]) => h("option", { value: v, selected: v === filters[name] }, l))));
  const bar = h("form", { class: "toolbar", id: "alerts-filters" },
    select("status", [["open", t("Open")], ["resolved", t("Resolved")], ["", t("Open and resolved")]], t("Status")),
    select("severity", [["", t("Any severity")], ["critical", label("critical")], ["warning", label("warning")], ["info", label("info")]], t("Severity")),
    select("kind", [["", t("Any kind")], ...KINDS.map((k) => [k, label(k)])], t("Kind")),
    select("acknowledged", [["", t("Acknowledged or not")], ["false", t("Not acknowledged")], ["true", t("Acknowledged")]], t("Acknowledged")),
    h("label", {}, h("span", {}, t("Station")), h("input", { name: "station_id", id: "alerts-station", value: filters.station_id })),
    h("button", { type: "submit" }, t("Apply")));
  const listBox = h("div", { id: "alerts-list" });
  const detailBox = h("div", { id: "alert-detail", class: "card", hidden: true });
  root.append(h("h1", {}, t("Alerts")), bar, h("div", { class: "alerts-layout" }, h("div", {}, listBox), detailBox));

  let table = null;
  const columns = [
    { label: t("Severity"), value: (a) => stateBadge(a.severity) },
    { label: t("Status"), value: (a) => [stateBadge(a.status), a.acknowledged ? [" ", h("span", { class: "badge s-ok ack" }, t("acknowledged"))] : null] },
    { label: t("Station"), value: (a) => h("a", { href: `#/stations/${encodeURIComponent(a.station_id)}`, onclick: (e) => e.stopPropagation() }, a.station_id) },
    { label: t("Kind"), value: (a) => label(a.kind) },
    { label: t("Alert"), value: (a) => a.summary },
    { label: t("Opened"), value: (a) => fmt.datetime(a.opened_at) },
    { label: t("Last seen"), value: (a) => [fmt.ago(a.last_seen_at), a.count > 1 ? ` (×${a.count})` : ""] },
  ];
  const rowsOf = (alerts) => ui.table(columns, alerts, { empty: t("No alert matches."), rowId: (a) => a.id, onRow: (a) => open(a.id) });
  const list = pager(async (before, reset) => {
    const query = { ...filters, limit: 50, before_id: before };
    if (query.station_id) {
      delete query.station_id;
    }
    const path = filters.station_id ? `/stations/${encodeURIComponent(filters.station_id)}/alerts` : "/alerts";
    const page = await ctx.get(path, query);
    if (reset || !table) {
      table = rowsOf(page.alerts);
      ui.clear(listBox, table);
    } else {
      table.querySelector("tbody").append(...rowsOf(page.alerts).querySelector("tbody").children);
    }
    markSelected();
    return page.next_before_id;
  });
  listBox.after(list.button);
  const markSelected = () => {
    for (const tr of listBox.querySelectorAll("tr[data-id]")) tr.classList.toggle("selected", Number(tr.dataset.id) === selected);
  };

  async function open(alertId) {
    selected = alertId;
    markSelected();
    let alert;
    try {
      alert = await ctx.get(`/alerts/${alertId}`);
    } catch (exc) {
      ui.clear(detailBox, h("p", { class: "error" }, exc.message));
      detailBox.hidden = false;
      return;
    }
    const history = [
      { at: alert.opened_at, text: t("Opened: {summary}", { summary: alert.summary }) },
      ...(alert.count > 1 ? [{ at: alert.last_seen_at, text: t("Seen {count} times, last", { count: alert.count }) }] : []),
      ...(alert.acknowledged ? [{ at: alert.acknowledged_at, text: t("Acknowledged by {who}", { who: alert.acknowledged_by || "?" }) }] : []),
      ...alert.comments.map((c) => ({ at: c.at, text: `${c.author}: ${c.text}`, comment: true })),
      ...(alert.resolved_at ? [{ at: alert.resolved_at, text: t("Resolved: {how}", { how: alert.resolution || "" }) }] : []),
    ].sort((a, b) => new Date(a.at) - new Date(b.at));
    const details = Object.entries(alert.details || {});
    const ackButton = canAct && !alert.acknowledged ? h("button", { type: "button", id: "alert-acknowledge", onclick: async (event) => {
      event.target.disabled = true;
      try {
        await ctx.post(`/alerts/${alertId}/acknowledge`, {});
        ui.toast(t("Alert acknowledged."));
        await open(alertId);
        list.reload();
      } catch (exc) {
        ui.toast(exc.message, { error: true });
        event.target.disabled = false;
      }
    } }, t("Acknowledge")) : null;
    const commentForm = canAct ? ui.form([{ name: "text", label: t("Comment"), type: "textarea", id: "alert-comment", rows: 2 }], t("Add comment"), async (values) => {
      if (!values.text.trim()) throw new Error(t("Write a comment first."));
      await ctx.post(`/alerts/${alertId}/comments`, { text: values.text.trim() });
      await open(alertId);
    }) : null;
    ui.clear(detailBox,
      h("div", { class: "detail-head" }, h("h2", {}, label(alert.kind), " ", stateBadge(alert.severity), " ", stateBadge(alert.status)),
        h("button", { type: "button", class: "secondary", "aria-label": t("Close"), onclick: () => { detailBox.hidden = true; selected = null; markSelected(); } }, "×")),
      h("p", {}, alert.summary),
      h("p", { class: "muted" }, h("a", { href: `#/stations/${encodeURIComponent(alert.station_id)}` }, alert.station_id),
        alert.evse_id ? ` #${alert.evse_id}` : "", " · ", alert.subject),
      details.length ? h("dl", { class: "facts" }, details.map(([k, v]) => [h("dt", {}, k), h("dd", { class: "mono" }, typeof v === "object" ? JSON.stringify(v) : String(v))])) : null,
      h("div", { class: "toolbar" }, ackButton,
        alert.acknowledged ? h("span", { class: "badge s-ok", id: "alert-acknowledged" }, t("Acknowledged by {who}", { who: alert.acknowledged_by || "?" })) : null),
      h("h3", {}, t("History")),
      h("ol", { class: "timeline", id: "alert-history" }, history.map((e) =>
        h("li", { class: e.comment ? "comment" : null }, h("span", { class: "muted" }, fmt.datetime(e.at)), " ", e.text))),
      commentForm);
    detailBox.hidden = false;
  }

  bar.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(bar);
    for (const name of Object.keys(filters)) filters[name] = String(data.get(name) || "").trim();
    list.reload().catch((exc) => ui.toast(exc.message, { error: true }));
  });

  const reload = debounce(() => list.reload(), 400);
  const reopen = debounce(() => { if (selected && !detailBox.hidden) open(selected); }, 400);
  const off = subscribe(ctx, ["alert"], (e) => {
    reload();
    if (e.alert_id === selected) reopen();
  });
  await list.reload();
  if (selected) await open(selected);

  return () => { off(); reload.cancel(); reopen.cancel(); };
}
