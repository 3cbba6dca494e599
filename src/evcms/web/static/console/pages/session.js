// One session: its figures (live while it runs), the samples chart, the cost breakdown, and a
// remote stop for a running one.
import { debounce, errorAnswer, label, powerChart, sampleColumns, stateBadge, subscribe } from "../lib/console_core.js";

export async function render(root, ctx) {
  const { h, t, fmt, ui } = ctx;
  const id = Number(ctx.params.id);
  let session = await ctx.get(`/sessions/${id}`);

  const header = h("div", { id: "session-header" });
  const actions = h("div", { class: "toolbar", id: "session-actions" });
  const answer = h("div", { id: "stop-answer", class: "answer", role: "status" });
  const chartBox = h("div", { id: "session-chart" });
  const costBox = h("div", { id: "session-cost" });
  root.append(
    h("p", {}, h("a", { href: "#/sessions" }, `← ${t("Sessions")}`)),
    header, actions, answer,
    h("h2", {}, t("Power and energy")), chartBox,
    h("h2", {}, t("Cost")), costBox,
  );

  function drawHeader() {
    const s = session;
    const running = s.status === "Active";
    ui.clear(header,
      h("h1", {}, t("Session {id}", { id: s.id }), " ", stateBadge(s.status, "session-status")),
      h("dl", { class: "facts" },
        h("dt", {}, t("Station")), h("dd", {}, h("a", { href: `#/stations/${encodeURIComponent(s.station_id)}` }, s.station_id), ` #${s.evse_id}`),
        h("dt", {}, t("Token")), h("dd", {}, s.id_token || "–"),
        h("dt", {}, t("Started")), h("dd", {}, fmt.datetime(s.started_at)),
        h("dt", {}, t("Ended")), h("dd", {}, fmt.datetime(s.ended_at)),
        h("dt", {}, t("Duration")), h("dd", {}, fmt.duration(s.duration_seconds ?? (s.started_at ? (Date.now() - new Date(s.started_at).getTime()) / 1000 : null))),
        h("dt", {}, t("Energy")), h("dd", { id: "session-energy" }, fmt.kwh(s.energy_wh, 3)),
        running ? [h("dt", {}, t("Power")), h("dd", { id: "session-power" }, fmt.kw(s.power_w))] : null,
        s.soc_percent !== null && s.soc_percent !== undefined ? [h("dt", {}, t("State of charge")), h("dd", {}, fmt.percent(s.soc_percent, 0))] : null,
        s.stop_reason ? [h("dt", {}, t("Stop reason")), h("dd", {}, s.stop_reason)] : null,
        s.closed_by ? [h("dt", {}, t("Closed by")), h("dd", {}, `${s.closed_by}${s.close_note ? ` · ${s.close_note}` : ""}`)] : null,
        s.offline ? [h("dt", {}, t("Offline")), h("dd", {}, t("yes"))] : null));
    ui.clear(actions);
    if (running && ctx.may("operate_stations")) {
      actions.append(h("button", { type: "button", class: "danger", id: "stop-session", onclick: stop }, t("Stop remotely")));
    }
  }

  async function stop(event) {
    if (!(await ui.confirmDialog(t("Stop session {id} on {station}?", { id, station: session.station_id }), { danger: true, confirm: t("Stop") }))) return;
    event.target.disabled = true;
    ui.clear(answer, h("span", { class: "muted" }, t("Waiting for the station's answer…")));
    try {
      const reply = await ctx.post(`/sessions/${id}/stop`);
      if (reply.outcome === "error" || reply.error_code) {
        ui.clear(answer, h("span", { class: "error" }, t("The station answered with an error: {code} {description}",
          { code: reply.error_code || "", description: reply.error_description || "" })));
        answer.dataset.state = "error";
      } else {
        const status = reply.payload && reply.payload.status;
        ui.clear(answer, t("The station answered {status}.", { status: status || "–" }), " ",
          status === "Accepted" ? t("The session ends when the station reports it.") : null);
        answer.dataset.state = status || "result";
      }
    } catch (exc) {
      ui.clear(answer, h("span", { class: "error" }, errorAnswer(exc)));
      answer.dataset.state = "error";
      event.target.disabled = false;
    }
  }

  const chartEl = h("div");
  chartBox.append(chartEl);
  const chart = powerChart(ctx, chartEl);
  async function loadChart() {
    const samples = await ctx.get(`/sessions/${id}/samples`);
    const cols = sampleColumns(samples.samples, session.meter_start_wh);
    chart.set(cols.times, cols.power, cols.energy);
  }

  async function loadCost() {
    let price = null;
    let charge = null;
    try { price = await ctx.get(`/sessions/${id}/price`); } catch (exc) { price = { error: exc.message }; }
    if (session.status === "Ended") {
      try { charge = await ctx.get(`/sessions/${id}/charge`); } catch { charge = null; }
    }
    if (charge && charge.lines) {
      ui.clear(costBox,
        ui.table([
          { label: t("Item"), value: (l) => l.kind },
          { label: t("Quantity"), num: true, value: (l) => `${fmt.number(l.quantity, 3)} ${l.unit}` },
          { label: t("Excl. VAT"), num: true, value: (l) => fmt.money(l.excl_vat, charge.currency) },
          { label: t("VAT"), num: true, value: (l) => fmt.money(l.vat, charge.currency) },
          { label: t("Incl. VAT"), num: true, value: (l) => fmt.money(l.incl_vat, charge.currency) },
        ], charge.lines),
        h("p", { class: "total" }, t("Total"), ": ", h("strong", { id: "session-total" }, fmt.money(charge.total_incl_vat, charge.currency)),
          " · ", t("Payment"), ": ", `${charge.payment_mode} (${label(charge.status)})`,
          charge.invoice_id ? [" · ", t("Invoice {id}", { id: charge.invoice_id })] : null));
      return;
    }
    if (!price || price.error) {
      ui.clear(costBox, h("p", { class: "muted" }, price && price.error ? price.error : t("No price for this session.")));
      return;
    }
    ui.clear(costBox,
      ui.table([
        { label: t("Item"), value: (c) => c.type },
        { label: t("Quantity"), num: true, value: (c) => fmt.number(c.quantity, 3) },
        { label: t("Excl. VAT"), num: true, value: (c) => fmt.money(c.amount_excl_vat, price.currency) },
        { label: t("VAT"), num: true, value: (c) => fmt.money(c.vat_amount, price.currency) },
        { label: t("Incl. VAT"), num: true, value: (c) => fmt.money(c.amount_incl_vat, price.currency) },
      ], price.components),
      h("p", { class: "total" }, price.final ? t("Total") : t("So far"), ": ",
        h("strong", { id: "session-total" }, fmt.money(price.total_incl_vat, price.currency)),
        price.limit_applied ? [" · ", price.limit_applied === "min_price" ? t("minimum price applied") : t("maximum price applied")] : null,
        " · ", t("Tariff {id}", { id: `${price.tariff_id} v${price.version}` })));
  }

  const reloadCost = debounce(loadCost, 2000);
  const redraw = debounce(drawHeader, 150);
  const off = subscribe(ctx, ["session.updated", "session.ended", "meter.sample"], async (e, type) => {
    if (e.session_id !== id) return;
    if (type === "meter.sample") {
      chart.push(e.at, e.power_w, e.energy_wh);
      Object.assign(session, { power_w: e.power_w, energy_wh: e.energy_wh, soc_percent: e.soc_percent ?? session.soc_percent });
      reloadCost();
    } else if (type === "session.ended") {
      session = await ctx.get(`/sessions/${id}`);
      ui.clear(answer);
      loadCost();
    } else {
      Object.assign(session, { power_w: e.power_w, energy_wh: e.energy_wh, status: e.status, stop_reason: e.stop_reason, ended_at: e.ended_at });
    }
    redraw();
  });
  drawHeader();
  await Promise.all([loadChart().catch((exc) => chartBox.append(h("p", { class: "error" }, exc.message))), loadCost()]);

  return () => { off(); redraw.cancel(); reloadCost.cancel(); chart.destroy(); };
}
