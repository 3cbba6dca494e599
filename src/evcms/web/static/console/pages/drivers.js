// Drivers and their identification tokens: search and deactivate drivers; issue, block and
// unblock tokens, approve the cards drivers added themselves.
import { action, field, section } from "../lib/admin.js";

const TOKEN_TYPES = ["ISO14443", "ISO15693", "eMAID", "KeyCode", "Central", "Local", "MacAddress", "NoAuthorization"];

export async function render(root, ctx) {
  const { h, ui, t, fmt } = ctx;
  const canManage = ctx.may("manage_network");
  root.append(h("h1", {}, t("Drivers and tokens")));

  // -- drivers ---------------------------------------------------------------------------------
  let drivers = [];
  let nextAfter = null;
  const search = h("input", { id: "driver-search", type: "search", placeholder: t("E-mail or name") });
  const statusFilter = h("select", { id: "driver-status" },
    h("option", { value: "" }, t("All")), h("option", { value: "active" }, t("active")),
    h("option", { value: "deactivated" }, t("deactivated")));
  const driversBox = h("div", { id: "drivers" });
  const more = h("button", { type: "button", class: "secondary", id: "drivers-more", hidden: true }, t("Load more"));

  function drawDrivers() {
    const needle = search.value.trim().toLowerCase();
    const shown = drivers.filter((d) => !needle || d.email.toLowerCase().includes(needle) || (d.name || "").toLowerCase().includes(needle));
    ui.clear(driversBox, ui.table([
      { label: t("E-mail"), value: (d) => d.email },
      { label: t("Name"), value: (d) => d.name || "–" },
      { label: t("Status"), value: (d) => ui.badge(t(d.status), d.status === "active" ? "ok" : "Unavailable") },
      { label: t("Verified"), value: (d) => (d.email_verified ? t("yes") : t("no")) },
      { label: t("Language"), value: (d) => d.language },
      { label: t("Since"), value: (d) => fmt.date(d.created_at) },
      { label: "", value: (d) => h("div", { class: "adm-actions" },
        h("button", { type: "button", class: "secondary", onclick: () => { tokenDriver.value = d.id; loadTokens(); } }, t("Tokens")),
        canManage && d.status === "active" ? h("button", { type: "button", class: "danger", onclick: action(ui, async () => {
          if (!(await ui.confirmDialog(t("Deactivate {email}? They can no longer sign in.", { email: d.email }), { danger: true, confirm: t("Deactivate") }))) return;
          const changed = await ctx.post(`/drivers/${d.id}/deactivate`);
          drivers = drivers.map((x) => (x.id === d.id ? changed : x));
          drawDrivers();
          ui.toast(t("{email} deactivated", { email: d.email }));
        }) }, t("Deactivate")) : null) },
    ], shown, { rowId: (d) => d.id, empty: t("No drivers found") }));
    more.hidden = !nextAfter;
  }

  async function loadDrivers(append = false) {
    const page = await ctx.get("/drivers", { status: statusFilter.value, limit: 100, after: append ? nextAfter : undefined });
    drivers = append ? drivers.concat(page.drivers) : page.drivers;
    nextAfter = page.next_after;
    drawDrivers();
  }
  search.addEventListener("input", drawDrivers);
  statusFilter.addEventListener("change", () => loadDrivers());
  more.addEventListener("click", action(ui, () => loadDrivers(true)));

  // -- tokens ----------------------------------------------------------------------------------
  let tokens = [];
  let nextTokenAfter = null;
  const tokenDriver = h("input", { id: "token-driver-filter", placeholder: t("Driver id") });
  const pendingOnly = h("input", { id: "token-pending", type: "checkbox" });
  const tokensBox = h("div", { id: "tokens" });
  const moreTokens = h("button", { type: "button", class: "secondary", id: "tokens-more", hidden: true }, t("Load more"));

  function emailOf(driverId) {
    const d = drivers.find((x) => x.id === driverId);
    return d ? d.email : driverId;
  }

  function tokenStatus(tok) {
    if (tok.pending_approval) return ui.badge(t("waiting for approval"), "Pending");
    return ui.badge(t(tok.status), tok.status);
  }

  function drawTokens() {
    const shown = pendingOnly.checked ? tokens.filter((x) => x.pending_approval) : tokens;
    ui.clear(tokensBox, ui.table([
      { label: t("Token"), value: (x) => h("span", { class: "mono" }, x.id) },
      { label: t("Type"), value: (x) => x.type },
      { label: t("Label"), value: (x) => x.label || "" },
      { label: t("Driver"), value: (x) => (x.driver_id ? emailOf(x.driver_id) : "–") },
      { label: t("Status"), value: tokenStatus },
      { label: t("Expires"), value: (x) => fmt.date(x.expires_at) },
      { label: "", value: (x) => !canManage ? "" : h("div", { class: "adm-actions" },
        x.pending_approval ? h("button", { type: "button", onclick: action(ui, async () => {
          replace(await ctx.post(`/tokens/${encodeURIComponent(x.id)}/approve`));
          ui.toast(t("Token {id} approved", { id: x.id }));
        }) }, t("Approve")) : null,
        x.status === "Blocked"
          ? h("button", { type: "button", class: "secondary", onclick: action(ui, async () => {
            replace(await ctx.patch(`/tokens/${encodeURIComponent(x.id)}`, { status: "Accepted" }));
          }) }, t("Unblock"))
          : h("button", { type: "button", class: "danger", onclick: action(ui, async () => {
            if (!(await ui.confirmDialog(t("Block token {id}? It can no longer start charging.", { id: x.id }), { danger: true, confirm: t("Block") }))) return;
            replace(await ctx.patch(`/tokens/${encodeURIComponent(x.id)}`, { status: "Blocked" }));
          }) }, t("Block"))) },
    ], shown, { rowId: (x) => x.id, empty: t("No tokens") }));
    moreTokens.hidden = !nextTokenAfter;
  }

  function replace(changed) {
    tokens = tokens.map((x) => (x.id === changed.id ? changed : x));
    drawTokens();
  }

  async function loadTokens(append = false) {
    const page = await ctx.get("/tokens", { driver_id: tokenDriver.value.trim(), limit: 200, after_id: append ? nextTokenAfter : undefined });
    tokens = append ? tokens.concat(page.tokens) : page.tokens;
    nextTokenAfter = page.next_after_id;
    drawTokens();
  }
  pendingOnly.addEventListener("change", drawTokens);
  tokenDriver.addEventListener("change", () => loadTokens().catch((exc) => ui.toast(exc.message, { error: true })));
  moreTokens.addEventListener("click", action(ui, () => loadTokens(true)));

  root.append(section(t("Drivers"), h("div", { class: "toolbar" }, field(t("Search"), search), field(t("Status"), statusFilter)), driversBox, more));
  const tokenSection = section(t("Tokens"),
    h("div", { class: "toolbar" }, field(t("Driver id"), tokenDriver),
      h("label", { class: "adm-check" }, pendingOnly, h("span", {}, t("Only cards waiting for approval")))));
  if (canManage) {
    tokenSection.append(h("div", { class: "card" }, ui.form([
      { name: "id", id: "token-new-id", label: t("Token id"), required: true },
      { name: "type", id: "token-new-type", label: t("Type"), type: "select", options: TOKEN_TYPES.map((x) => [x, x]), value: "ISO14443" },
      { name: "label", id: "token-new-label", label: t("Label") },
      { name: "driver_id", id: "token-new-driver", label: t("Driver id (optional)") },
    ], t("Issue token"), async (values) => {
      const body = { id: values.id.trim(), type: values.type, label: values.label.trim() };
      if (values.driver_id.trim()) body.driver_id = values.driver_id.trim();
      const created = await ctx.post("/tokens", body);
      ui.toast(t("Token {id} issued", { id: created.id }));
      await loadTokens();
    })));
  }
  tokenSection.append(tokensBox, moreTokens);
  root.append(tokenSection);
  const shown = (box) => (exc) => ui.clear(box, h("p", { class: exc.status === 503 ? "muted" : "error" }, exc.message));
  await Promise.all([loadDrivers().catch(shown(driversBox)), loadTokens().catch(shown(tokensBox))]);
}
