// Operations: the audit log (who sent what to which station, and what it answered) and bulk
// operations over many stations, with their progress.
import { answerText, debounce, label, pager, stateBadge, subscribe } from "../lib/console_core.js";

const BULK_OPERATIONS = ["reset", "change_availability", "unlock_connector", "trigger_message", "clear_cache",
  "data_transfer", "set_charging_profile", "clear_charging_profile", "get_composite_schedule"];
const EXAMPLE_PARAMS = {
  reset: { type: "Soft" },
  change_availability: { status: "Inoperative" },
  unlock_connector: { evse_id: 1 },
  trigger_message: { message: "StatusNotification" },
  clear_cache: {},
  data_transfer: { vendor_id: "com.example", message_id: "Hello" },
  set_charging_profile: {},
  clear_charging_profile: {},
  get_composite_schedule: { evse_id: 1, duration: 3600 },
};

export async function render(root, ctx) {
  const { h, t, fmt, ui } = ctx;
  const canOperate = ctx.may("operate_stations");
  const filters = {
    station_id: ctx.params.station || "",
    action: ctx.params.action || "",
    outcome: ctx.params.outcome || "",
    requested_by: ctx.params.by || "",
  };
  const bulkBox = h("div", { id: "bulk" });
  const bulkList = h("div", { id: "bulk-list" });
  const auditBox = h("div", { id: "audit" });
  const input = (name, text) => h("label", {}, h("span", {}, text), h("input", { name, id: `audit-${name}`, value: filters[name] }));
  const bar = h("form", { class: "toolbar", id: "audit-filters" },
    input("station_id", t("Station")), input("action", t("Operation")),
    h("label", {}, h("span", {}, t("Answer")), h("select", { name: "outcome", id: "audit-outcome" },
      ["", "result", "error", "timeout", "disconnected", "rejected"].map((v) => h("option", { value: v, selected: v === filters.outcome }, v ? label(v) : t("Any answer"))))),
    input("requested_by", t("Who")),
    h("button", { type: "submit" }, t("Apply")));
  root.append(
    h("h1", {}, t("Operations")),
    h("h2", {}, t("Bulk operations")), bulkBox, bulkList,
    h("h2", {}, t("Audit log")), bar, auditBox,
  );

  // -- audit log ---------------------------------------------------------------------------
  let table = null;
  const columns = [
    { label: t("When"), value: (o) => fmt.datetime(o.requested_at) },
    { label: t("Who"), value: (o) => o.requested_by },
    { label: t("Station"), value: (o) => h("a", { href: `#/stations/${encodeURIComponent(o.station_id)}` }, o.station_id) },
    { label: t("Operation"), value: (o) => [o.action, o.bulk_id ? h("span", { class: "muted" }, ` · ${t("bulk {id}", { id: o.bulk_id })}`) : null] },
    { label: t("Request"), value: (o) => h("span", { class: "mono" }, JSON.stringify(o.request)) },
    { label: t("Answer"), value: (o) => [stateBadge(o.status || o.outcome), " ", h("span", { class: "muted" }, answerText(o))] },
  ];
  const audit = pager(async (before, reset) => {
    const page = await ctx.get("/operations", { ...filters, limit: 50, before_id: before });
    const fresh = ui.table(columns, page.operations, { empty: t("No operation matches."), rowId: (o) => o.id });
    if (reset || !table) { table = fresh; ui.clear(auditBox, table); } else { table.querySelector("tbody").append(...fresh.querySelector("tbody").children); }
    return page.next_before_id;
  });
  auditBox.after(audit.button);
  bar.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(bar);
    for (const name of Object.keys(filters)) filters[name] = String(data.get(name) || "").trim();
    audit.reload().catch((exc) => ui.toast(exc.message, { error: true }));
  });

  // -- bulk operations ---------------------------------------------------------------------
  const polls = new Map();  // bulk id -> timer
  function bulkRow(b) {
    return h("div", { class: "bulk card", "data-bulk": b.id },
      h("div", { class: "bulk-head" }, h("strong", {}, `#${b.id} ${b.operation}`), " ",
        h("span", { class: "muted" }, `${b.requested_by} · ${fmt.datetime(b.requested_at)}`), " ",
        b.finished_at ? stateBadge("completed") : stateBadge("in_progress")),
      h("div", { class: "bulk-progress" }, ui.progress(b.done ?? (b.finished_at ? b.total : 0), b.total),
        h("span", { class: "bulk-count" }, t("{done} of {total} stations", { done: b.done ?? (b.finished_at ? b.total : "…"), total: b.total }))),
      b.by_status && Object.keys(b.by_status).length ? h("div", { class: "muted" },
        Object.entries(b.by_status).map(([k, v]) => `${k}: ${v}`).join(" · ")) : null,
      b.stations ? h("details", {}, h("summary", {}, t("Stations")), ui.table([
        { label: t("Station"), value: (s) => s.station_id },
        { label: t("Answer"), value: (s) => (s.outcome ? stateBadge(s.status || s.outcome) : h("span", { class: "muted" }, t("waiting"))) },
      ], b.stations)) : null);
  }
  async function watch(bulkId) {
    const b = await ctx.get(`/operations/bulk/${bulkId}`);
    const old = bulkList.querySelector(`[data-bulk="${bulkId}"]`);
    const el = bulkRow(b);
    if (old) old.replaceWith(el); else bulkList.prepend(el);
    clearTimeout(polls.get(bulkId));
    if (!b.finished_at) polls.set(bulkId, setTimeout(() => watch(bulkId).catch(() => null), 1000));
    else { polls.delete(bulkId); audit.reload(); }
  }
  async function loadBulks() {
    const bulks = await ctx.get("/operations/bulk", { limit: 10 });
    ui.clear(bulkList, bulks.length ? null : h("p", { class: "muted" }, t("No bulk operation yet.")));
    for (const b of bulks) {
      bulkList.append(bulkRow(b));
      if (!b.finished_at) watch(b.id).catch(() => null);
    }
  }

  if (canOperate) {
    const sites = await ctx.get("/sites").catch(() => []);
    const params = h("textarea", { name: "params", id: "bulk-params", rows: 2, class: "mono" }, JSON.stringify(EXAMPLE_PARAMS.reset));
    const operation = h("select", { name: "operation", id: "bulk-operation" }, BULK_OPERATIONS.map((o) => h("option", { value: o }, o)));
    operation.addEventListener("change", () => { params.value = JSON.stringify(EXAMPLE_PARAMS[operation.value] || {}); });
    const stationsInput = h("input", { name: "station_ids", id: "bulk-stations", placeholder: "CP-1, CP-2" });
    const site = h("select", { name: "site_id", id: "bulk-site" }, h("option", { value: "" }, t("Any site")), sites.map((s) => h("option", { value: s.id }, s.name || s.id)));
    const model = h("input", { name: "model", id: "bulk-model" });
    const error = h("div", { class: "error", role: "alert" });
    const form = h("form", { class: "toolbar", id: "bulk-form" },
      h("label", {}, h("span", {}, t("Operation")), operation),
      h("label", { class: "wide" }, h("span", {}, t("Parameters (JSON)")), params),
      h("label", {}, h("span", {}, t("Stations (comma-separated)")), stationsInput),
      h("label", {}, h("span", {}, t("Site")), site),
      h("label", {}, h("span", {}, t("Model")), model),
      h("button", { type: "submit" }, t("Start")), error);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      let parsed;
      try { parsed = params.value.trim() ? JSON.parse(params.value) : {}; } catch { error.textContent = t("The parameters are not valid JSON."); return; }
      const ids = stationsInput.value.split(",").map((x) => x.trim()).filter(Boolean);
      const target = {};
      if (ids.length) target.station_ids = ids;
      if (site.value) target.site_id = site.value;
      if (model.value.trim()) target.model = model.value.trim();
      if (!Object.keys(target).length) { error.textContent = t("Choose the stations: ids, a site or a model."); return; }
      const what = t("{operation} on {target}", { operation: operation.value, target: ids.length ? ids.join(", ") : [site.value && t("site {site}", { site: site.value }), target.model].filter(Boolean).join(", ") });
      if (!(await ui.confirmDialog(t("Start {what}?", { what }), { danger: operation.value === "reset" }))) return;
      try {
        const b = await ctx.post("/operations/bulk", { operation: operation.value, params: parsed, target });
        if (bulkList.querySelector("p.muted")) bulkList.replaceChildren();
        await watch(b.id);
      } catch (exc) {
        error.textContent = exc.message;
      }
    });
    bulkBox.append(form);
  }

  const reload = debounce(() => audit.reload(), 800);
  const off = subscribe(ctx, ["operation.finished"], () => reload());
  await Promise.all([audit.reload(), loadBulks()]);
  return () => { off(); reload.cancel(); for (const timer of polls.values()) clearTimeout(timer); };
}
