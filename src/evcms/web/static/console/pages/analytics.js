// Analytics: a scope (network, site or station), a period and a time zone; figures, charts,
// faults, top tokens, CSV exports of each data set and a site's monthly report as a PDF.
import { action, field, isoDate, section } from "../lib/admin.js";
import { barChart } from "../lib/chart.js";
import { currentLanguage, locale } from "../lib/i18n.js";

const ZONES = ["Europe/Sofia", "UTC", "Europe/London", "Europe/Berlin", "Europe/Athens", "America/New_York", "America/Los_Angeles", "Asia/Tokyo"];

export async function render(root, ctx) {
  const { h, ui, t, fmt } = ctx;
  const stops = [];
  root.append(h("h1", {}, t("Analytics")));
  const [sites, stations] = await Promise.all([ctx.get("/sites"), ctx.get("/stations")]);

  const today = new Date();
  const from = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 29);
  const to = new Date(today.getFullYear(), today.getMonth(), today.getDate() + 1);
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

  const scope = h("select", { id: "an-scope" },
    h("option", { value: "network" }, t("Whole network")),
    h("option", { value: "site" }, t("Site")),
    h("option", { value: "station" }, t("Station")));
  const siteSelect = h("select", { id: "an-site" }, sites.map((s) => h("option", { value: s.id }, s.name || s.id)));
  const stationSelect = h("select", { id: "an-station" }, stations.map((s) => h("option", { value: s.id }, s.id)));
  const siteField = field(t("Site"), siteSelect);
  const stationField = field(t("Station"), stationSelect);
  const fromInput = h("input", { id: "an-from", type: "date", value: ctx.params.from || isoDate(from), required: true });
  const toInput = h("input", { id: "an-to", type: "date", value: ctx.params.to || isoDate(to), required: true });
  const zones = [...new Set([browserZone, ...ZONES])];
  const zoneInput = h("input", { id: "an-tz", list: "an-zones", value: ctx.params.tz || browserZone, required: true });
  const zoneList = h("datalist", { id: "an-zones" }, zones.map((z) => h("option", { value: z })));
  const error = h("div", { class: "error", role: "alert", id: "an-error" });
  const showFields = () => { siteField.hidden = scope.value !== "site"; stationField.hidden = scope.value !== "station"; };
  if (ctx.params.site) { scope.value = "site"; siteSelect.value = ctx.params.site; }
  if (ctx.params.station) { scope.value = "station"; stationSelect.value = ctx.params.station; }
  scope.addEventListener("change", showFields);
  showFields();
  const controls = h("form", { class: "toolbar", id: "an-controls" },
    field(t("Scope"), scope), siteField, stationField, field(t("From"), fromInput),
    field(t("To (exclusive)"), toInput), field(t("Time zone"), zoneInput), zoneList,
    h("button", { type: "submit", id: "an-show" }, t("Show")), error);

  const tiles = h("div", { class: "tiles", id: "an-tiles" });
  const excluded = h("div", { id: "an-excluded", class: "muted" });
  const energyChart = h("div", { class: "chart", id: "an-energy-chart" });
  const hourBars = h("div", { class: "chart", id: "an-hours" });
  const weekBars = h("div", { class: "chart", id: "an-weekdays" });
  const faultsBox = h("div", { id: "an-faults" });
  const tokensBox = h("div", { id: "an-tokens" });
  const exports = h("div", { class: "toolbar", id: "an-exports" });
  const report = h("div", { id: "an-report" });

  root.append(h("div", { class: "card" }, controls), tiles, excluded,
    section(t("Energy per day"), energyChart),
    h("div", { class: "grid2" },
      section(t("Sessions per hour of day"), hourBars),
      section(t("Sessions per day of week"), weekBars)),
    h("div", { class: "grid2" }, section(t("Faults"), faultsBox), section(t("Top tokens"), tokensBox)),
    section(t("Export as CSV"), exports), report);

  let chart = null;
  stops.push(() => chart && chart.destroy());

  function query() {
    const q = { from: fromInput.value, to: toInput.value, tz: zoneInput.value.trim() || "UTC" };
    if (scope.value === "site") q.site = siteSelect.value;
    if (scope.value === "station") q.station = stationSelect.value;
    return q;
  }

  function money(map) {
    const entries = Object.entries(map || {});
    if (!entries.length) return fmt.money(0);
    return entries.map(([currency, amount]) => fmt.money(amount, currency)).join(" + ");
  }

  async function load() {
    error.textContent = "";
    const q = query();
    let data;
    try {
      const [utilisation, uptime, summary, days, hours, weekdays, faults, tokens] = await Promise.all([
        ctx.get("/analytics/utilisation", q),
        ctx.get("/analytics/uptime", q),
        ctx.get("/analytics/summary", q),
        ctx.get("/analytics/sessions", { ...q, grain: "day" }),
        ctx.get("/analytics/sessions", { ...q, grain: "hour_of_day" }),
        ctx.get("/analytics/sessions", { ...q, grain: "day_of_week" }),
        ctx.get("/analytics/faults", q),
        ctx.get("/analytics/top-tokens", q),
      ]);
      data = { utilisation, uptime, summary, days, hours, weekdays, faults, tokens };
    } catch (exc) {
      error.textContent = exc.message;
      return;
    }
    const { utilisation, uptime, summary, days, hours, weekdays, faults, tokens } = data;
    ui.clear(tiles,
      ui.tile(t("Utilisation (occupied)"), fmt.percent(utilisation.occupied_percent), "an-utilisation"),
      ui.tile(t("Charging time"), fmt.percent(utilisation.charging_percent), "an-charging"),
      ui.tile(t("Uptime"), fmt.percent(uptime.total.uptime_percent, 2), "an-uptime"),
      ui.tile(t("Energy"), `${fmt.number(summary.energy_kwh, 1)} kWh`, "an-energy"),
      ui.tile(t("Sessions"), fmt.number(summary.sessions), "an-sessions"),
      ui.tile(t("Success rate"), fmt.percent(summary.success_percent), "an-success"),
      ui.tile(t("Revenue (incl. VAT)"), money(summary.revenue_incl_vat), "an-revenue"),
      ui.tile(t("Average session"), summary.average_duration_minutes == null ? "–" : fmt.duration(Number(summary.average_duration_minutes) * 60), "an-average"));
    const causes = Object.entries(uptime.total.excluded_minutes_by_cause || {});
    ui.clear(excluded,
      h("p", {}, t("Uptime counts {total} min; outage {outage} min, of which {excluded} min excluded.", {
        total: fmt.number(uptime.total.total_minutes, 0), outage: fmt.number(uptime.total.outage_minutes, 0),
        excluded: fmt.number(uptime.total.excluded_minutes, 0) })),
      causes.length ? h("ul", {}, causes.map(([cause, minutes]) => h("li", {}, `${cause}: ${fmt.number(minutes, 0)} min`))) : null,
      uptime.undetectable_excluded_causes.length
        ? h("p", { class: "small" }, t("Not detected automatically: {causes}", { causes: uptime.undetectable_excluded_causes.join(", ") }))
        : null,
      h("p", { class: "small mono" }, uptime.formula));

    if (chart) chart.destroy();
    ui.clear(energyChart);
    chart = ctx.chart.timeChart(energyChart, [{ label: "kWh", color: "#0b5cad" }], { height: 220 });
    chart.set(days.buckets.map((b) => `${b.bucket}T12:00:00`), [days.buckets.map((b) => b.energy_kwh)]);
    if (!days.buckets.length) energyChart.append(h("p", { class: "muted" }, t("No sessions in this period")));

    const hourValues = Array(24).fill(0);
    for (const b of hours.buckets) hourValues[Number(b.bucket)] = b.sessions;
    ui.clear(hourBars);
    barChart(hourBars, hourValues.map((_, i) => String(i)), hourValues, { id: "an-hour-bars" });
    const weekdayNames = [1, 2, 3, 4, 5, 6, 7].map((d) =>
      new Intl.DateTimeFormat(locale(), { weekday: "short" }).format(new Date(Date.UTC(2024, 0, d, 12))));
    const weekValues = Array(7).fill(0);
    for (const b of weekdays.buckets) weekValues[Number(b.bucket) - 1] = b.sessions;
    ui.clear(weekBars);
    barChart(weekBars, weekdayNames, weekValues, { id: "an-week-bars" });

    ui.clear(faultsBox,
      h("div", { class: "grid2" },
        ui.table([{ label: t("Error code"), value: ([k]) => k }, { label: t("Faults"), num: true, value: ([, n]) => fmt.number(n) }],
          Object.entries(faults.by_code), { empty: t("No faults") }),
        ui.table([{ label: t("Model"), value: ([k]) => k || "–" }, { label: t("Faults"), num: true, value: ([, n]) => fmt.number(n) }],
          Object.entries(faults.by_model), { empty: t("No faults") })));
    ui.clear(tokensBox, ui.table([
      { label: t("Token"), value: (x) => h("span", { class: "mono" }, x.id_token) },
      { label: t("Sessions"), num: true, value: (x) => fmt.number(x.sessions) },
      { label: t("Energy"), num: true, value: (x) => `${fmt.number(x.energy_kwh, 2)} kWh` },
    ], tokens.tokens, { empty: t("No sessions in this period") }));

    const csv = [["utilisation", t("Utilisation")], ["uptime", t("Uptime")], ["sessions", t("Sessions per day")],
      ["summary", t("Summary")], ["revenue", t("Revenue")], ["faults", t("Faults")], ["top-tokens", t("Top tokens")]];
    ui.clear(exports, csv.map(([name, label]) => h("button", { type: "button", class: "secondary", id: `an-csv-${name}`,
      onclick: action(ui, () => ctx.download(`/analytics/${name}`, { ...q, format: "csv" }, `${name}.csv`)) }, label)));
  }

  // the monthly report of a site, as a PDF
  if (sites.length) {
    const month = h("input", { id: "an-month", type: "month", value: `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, "0")}` });
    const reportSite = h("select", { id: "an-report-site" }, sites.map((s) => h("option", { value: s.id }, s.name || s.id)));
    const lang = h("select", { id: "an-report-lang" }, h("option", { value: "en" }, "English"), h("option", { value: "bg" }, "Български"));
    lang.value = currentLanguage();
    ui.clear(report, section(t("Monthly site report"), h("div", { class: "toolbar" },
      field(t("Site"), reportSite), field(t("Month"), month), field(t("Language"), lang),
      h("button", { type: "button", id: "an-report-pdf", onclick: action(ui, () => ctx.download(
        `/analytics/sites/${encodeURIComponent(reportSite.value)}/monthly-report.pdf`,
        { month: month.value, lang: lang.value, tz: zoneInput.value.trim() || undefined }, `${reportSite.value}-${month.value}.pdf`)) },
      t("Download PDF")))));
  }

  controls.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  await load();
  return () => stops.forEach((stop) => stop());
}
