// Webhooks: subscriptions (the signing secret is shown once, when created), their delivery log
// with the receiver's status codes, a test ping and redelivery. The log is polled while
// deliveries are pending.
import { action, field, poll, secretBox, section } from "../lib/admin.js";

export async function render(root, ctx) {
  const { h, ui, t, fmt } = ctx;
  const stops = [];
  root.append(h("h1", {}, t("Webhooks")));
  const listBox = h("div", { id: "webhooks" });
  const createdBox = h("div", { id: "webhook-created" });
  const logBox = h("div", { id: "deliveries" });
  let subscriptions = [];
  let stopLog = null;

  function statusBadge(d) {
    const label = { pending: t("pending"), delivered: t("delivered"), failed: t("failed") }[d.status] || d.status;
    return ui.badge(label, d.status === "pending" ? "Pending" : d.status);
  }

  async function loadList() {
    subscriptions = (await ctx.get("/webhooks")).webhooks;
    ui.clear(listBox, ui.table([
      { label: t("URL"), value: (s) => h("span", { class: "mono" }, s.url) },
      { label: t("Events"), value: (s) => s.event_types.join(", ") },
      { label: t("Only"), value: (s) => s.station_id || s.site_id || t("all stations") },
      { label: t("Description"), value: (s) => s.description || "" },
      { label: t("Enabled"), value: (s) => ui.badge(s.enabled ? t("on") : t("off"), s.enabled ? "ok" : "Unavailable") },
      { label: "", value: (s) => h("div", { class: "adm-actions" },
        h("button", { type: "button", class: "secondary", onclick: action(ui, () => showLog(s)) }, t("Deliveries")),
        h("button", { type: "button", class: "secondary", onclick: action(ui, async () => {
          await ctx.post(`/webhooks/${s.id}/test`);
          ui.toast(t("Test ping queued"));
          await showLog(s);
        }) }, t("Send test ping")),
        h("button", { type: "button", class: "secondary", onclick: action(ui, async () => {
          await ctx.patch(`/webhooks/${s.id}`, { enabled: !s.enabled });
          await loadList();
        }) }, s.enabled ? t("Disable") : t("Enable")),
        h("button", { type: "button", class: "danger", onclick: action(ui, async () => {
          if (!(await ui.confirmDialog(t("Delete the subscription of {url} and its delivery log?", { url: s.url }), { danger: true }))) return;
          await ctx.del(`/webhooks/${s.id}`);
          ui.clear(logBox);
          await loadList();
        }) }, t("Delete"))) },
    ], subscriptions, { rowId: (s) => s.id, empty: t("No subscriptions yet") }));
  }

  async function showLog(subscription) {
    if (stopLog) stopLog();
    const draw = async () => {
      const { deliveries } = await ctx.get(`/webhooks/${subscription.id}/deliveries`, { limit: 50 });
      ui.clear(logBox, section(t("Deliveries to {url}", { url: subscription.url }), ui.table([
        { label: "#", num: true, value: (d) => d.id },
        { label: t("Event"), value: (d) => d.event_type },
        { label: t("Status"), value: statusBadge },
        { label: t("HTTP status"), num: true, value: (d) => (d.last_status_code == null ? "–" : String(d.last_status_code)) },
        { label: t("Attempts"), num: true, value: (d) => `${d.attempts} / ${d.max_attempts}` },
        { label: t("Created"), value: (d) => fmt.datetime(d.created_at) },
        { label: t("Delivered"), value: (d) => fmt.datetime(d.delivered_at) },
        { label: t("Next attempt"), value: (d) => (d.next_attempt_at && d.status === "pending" ? fmt.ago(d.next_attempt_at) : "") },
        { label: t("Error"), value: (d) => d.last_error || "" },
        { label: "", value: (d) => d.status === "pending" ? "" : h("button", { type: "button", class: "secondary", onclick: action(ui, async () => {
          await ctx.post(`/webhooks/${subscription.id}/deliveries/${d.id}/redeliver`);
          ui.toast(t("Delivery {id} sent again", { id: d.id }));
          await draw();
        }) }, t("Redeliver")) },
      ], deliveries, { rowId: (d) => d.id, empty: t("No deliveries yet") })));
      return true;
    };
    await draw();
    stopLog = poll(draw, 2);
  }
  stops.push(() => stopLog && stopLog());

  const types = ctx.events.KNOWN_TYPES;
  const boxes = types.map((type) => h("input", { type: "checkbox", value: type, name: "event_type", checked: type === "alert" }));
  const url = h("input", { id: "webhook-url", type: "url", required: true, placeholder: "https://example.com/evcms" });
  const description = h("input", { id: "webhook-description", maxlength: 500 });
  const secret = h("input", { id: "webhook-secret", placeholder: t("generated when empty") });
  const error = h("div", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit", id: "webhook-create" }, t("Create subscription"));
  const createForm = h("form", { id: "webhook-form", class: "adm-stack" },
    h("div", { class: "toolbar" }, field(t("URL"), url), field(t("Description"), description), field(t("Secret (16 characters or more)"), secret)),
    h("fieldset", { class: "adm-types" }, h("legend", {}, t("Event types")),
      boxes.map((box) => h("label", { class: "adm-check" }, box, h("span", { class: "mono" }, box.value)))),
    h("div", { class: "toolbar" }, submit, error));
  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const body = { url: url.value.trim(), description: description.value.trim(), event_types: boxes.filter((b) => b.checked).map((b) => b.value) };
    if (secret.value.trim()) body.secret = secret.value.trim();
    submit.disabled = true;
    try {
      const created = await ctx.post("/webhooks", body);
      createForm.reset();
      ui.clear(createdBox, h("div", { class: "card adm-notice", role: "status" },
        h("p", {}, h("strong", {}, t("Subscription created. Copy its signing secret now: it is not shown again."))),
        secretBox(created.secret, "webhook-secret-once"),
        h("p", { class: "muted" }, t("Each delivery carries an HMAC-SHA256 signature made with this secret."))));
      await loadList();
      await showLog(created);
    } catch (exc) {
      error.textContent = exc.message;
    } finally {
      submit.disabled = false;
    }
  });

  root.append(section(t("New subscription"), h("div", { class: "card" }, createForm)), createdBox,
    section(t("Subscriptions"), listBox), logBox);
  await loadList();
  return () => stops.forEach((stop) => stop());
}
