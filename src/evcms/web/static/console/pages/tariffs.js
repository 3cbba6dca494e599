// Tariffs (OCPI 2.2.1): list, import or edit (a new version), assign to the network, a site or a
// station, and the dry-run calculator: energy, time and start -> the price, component by component.
import { action, field, localToIso, postJsonText, section } from "../lib/admin.js";

const EXAMPLE = `{
  "country_code": "BG", "party_id": "EVC", "id": "STANDARD", "currency": "EUR",
  "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 20, "step_size": 1}]}],
  "last_updated": "${new Date().toISOString().slice(0, 19)}Z"
}`;

function componentName(ctx, type) {
  return { ENERGY: ctx.t("Energy"), TIME: ctx.t("Charging time"), PARKING_TIME: ctx.t("Parking time"), FLAT: ctx.t("Flat fee") }[type] || type;
}

export async function render(root, ctx) {
  const { h, ui, t, fmt } = ctx;
  const canManage = ctx.may("manage_network");
  root.append(h("h1", {}, t("Tariffs")));
  let tariffs = [];
  let afterLoad = () => {};
  const listBox = h("div", { id: "tariffs" });
  const editorBox = h("div", { id: "tariff-editor" });
  const assignBox = h("div", { id: "tariff-assign" });
  const calcTariff = h("select", { id: "calc-tariff" });
  const calcResult = h("div", { id: "calc-result" });

  async function loadTariffs() {
    tariffs = (await ctx.get("/tariffs")).tariffs;
    ui.clear(listBox, ui.table([
      { label: t("Tariff"), value: (x) => h("strong", { class: "mono" }, x.id) },
      { label: t("Name"), value: (x) => x.name || "–" },
      { label: t("Version"), num: true, value: (x) => x.version },
      { label: t("Currency"), value: (x) => x.currency },
      { label: t("Time zone"), value: (x) => x.time_zone },
      { label: t("Changed"), value: (x) => fmt.datetime(x.created_at) },
      { label: "", value: (x) => h("div", { class: "adm-actions" },
        h("button", { type: "button", class: "secondary", onclick: action(ui, () => openEditor(x.id)) }, canManage ? t("Edit") : t("Show")),
        h("button", { type: "button", class: "secondary", onclick: () => { calcTariff.value = x.id; calcTariff.focus(); } }, t("Calculate"))) },
    ], tariffs, { rowId: (x) => x.id, empty: t("No tariffs yet") }));
    const chosen = calcTariff.value;
    ui.clear(calcTariff, tariffs.map((x) => h("option", { value: x.id }, x.name ? `${x.id} · ${x.name}` : x.id)));
    if (chosen && tariffs.some((x) => x.id === chosen)) calcTariff.value = chosen;
    afterLoad();
  }

  function editor(title, text, zone) {
    const area = h("textarea", { id: "tariff-json", rows: 14, class: "mono adm-json", spellcheck: "false" }, text);
    const tz = h("input", { id: "tariff-tz", value: zone || "Europe/Sofia" });
    const error = h("div", { class: "error", role: "alert" });
    const save = h("button", { type: "button", id: "tariff-save", disabled: !canManage, onclick: action(ui, async () => {
      error.textContent = "";
      try { JSON.parse(area.value); } catch (exc) { error.textContent = t("Not valid JSON: {error}", { error: exc.message }); return; }
      try {
        const saved = await postJsonText("/tariffs", area.value, { time_zone: tz.value.trim() });
        ui.toast(t("Tariff {id} saved as version {version}", { id: saved.id, version: saved.version }));
        ui.clear(editorBox);
        await loadTariffs();
      } catch (exc) { error.textContent = exc.message; }
    }) }, t("Save"));
    ui.clear(editorBox, section(title, h("div", { class: "card" },
      h("p", { class: "muted" }, t("An OCPI 2.2.1 Tariff object. Saving a tariff id that exists adds a new version; sessions keep the version they started with.")),
      area, h("div", { class: "toolbar" }, field(t("Time zone of its time restrictions"), tz), save,
        h("button", { type: "button", class: "secondary", onclick: () => ui.clear(editorBox) }, t("Close")), error))));
  }

  async function openEditor(id) {
    const tariff = await ctx.get(`/tariffs/${encodeURIComponent(id)}`);
    editor(t("Tariff {id}, version {version}", { id: tariff.id, version: tariff.version }), JSON.stringify(tariff.ocpi, null, 2), tariff.time_zone);
  }

  // the dry-run calculator
  const now = new Date();
  now.setSeconds(0, 0);
  const localNow = new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const start = h("input", { id: "calc-start", type: "datetime-local", value: localNow, required: true });
  const energy = h("input", { id: "calc-energy", type: "number", min: 0, step: "any", value: "20" });
  const charging = h("input", { id: "calc-charging", type: "number", min: 0, step: "any", value: "60" });
  const parking = h("input", { id: "calc-parking", type: "number", min: 0, step: "any", value: "0" });
  const power = h("input", { id: "calc-power", type: "number", min: 0, step: "any", placeholder: t("optional") });
  const calcError = h("div", { class: "error", role: "alert" });
  const calcForm = h("form", { class: "toolbar", id: "calc-form" },
    field(t("Tariff"), calcTariff), field(t("Start"), start), field(t("Energy (kWh)"), energy),
    field(t("Charging (minutes)"), charging), field(t("Parking (minutes)"), parking),
    field(t("Max. power (kW)"), power), h("button", { type: "submit", id: "calc-run" }, t("Calculate")), calcError);
  calcForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    calcError.textContent = "";
    if (!calcTariff.value) { calcError.textContent = t("Import a tariff first."); return; }
    const body = {
      start: localToIso(start.value), energy_kwh: energy.value || "0",
      charging_minutes: charging.value || "0", parking_minutes: parking.value || "0",
    };
    if (power.value) body.max_power_kw = power.value;
    try {
      const quote = await ctx.post(`/tariffs/${encodeURIComponent(calcTariff.value)}/quote`, body);
      const money = (v) => fmt.money(v, quote.currency);
      ui.clear(calcResult, ui.table([
        { label: t("Component"), value: (c) => componentName(ctx, c.type) },
        { label: t("Quantity"), num: true, value: (c) => fmt.number(c.quantity, c.type === "ENERGY" ? 3 : 2) + (c.type === "ENERGY" ? " kWh" : c.type === "FLAT" ? "" : " h") },
        { label: t("Excl. VAT"), num: true, value: (c) => money(c.amount_excl_vat) },
        { label: t("VAT"), num: true, value: (c) => money(c.vat_amount) },
        { label: t("Incl. VAT"), num: true, value: (c) => money(c.amount_incl_vat) },
      ], quote.components.filter((c) => Number(c.quantity) !== 0 || Number(c.amount_incl_vat) !== 0), { empty: t("Free under this tariff") }),
      h("div", { class: "tiles adm-total" },
        ui.tile(t("Total excl. VAT"), money(quote.total_excl_vat)),
        ui.tile(t("VAT"), money(quote.total_vat)),
        ui.tile(t("Total"), money(quote.total_incl_vat), "calc-total")),
      quote.limit_applied ? h("p", { class: "muted" }, quote.limit_applied === "min_price" ? t("The tariff's minimum price applied.") : t("The tariff's maximum price applied.")) : null,
      h("p", { class: "muted small" }, t("Tariff {id}, version {version}", { id: quote.tariff_id, version: quote.version })));
    } catch (exc) {
      calcError.textContent = exc.message;
    }
  });

  root.append(section(t("Tariffs"), listBox));
  if (canManage) {
    root.append(h("div", { class: "toolbar" },
      h("button", { type: "button", id: "tariff-new", onclick: () => editor(t("Import a tariff"), EXAMPLE, "Europe/Sofia") }, t("Import a tariff"))));
  }
  root.append(editorBox);
  if (canManage) {
    const [sites, stations] = await Promise.all([ctx.get("/sites"), ctx.get("/stations")]);
    const scopeId = h("select", { id: "assign-scope-id" });
    const scope = h("select", { id: "assign-scope" },
      h("option", { value: "default" }, t("Default for the network")), h("option", { value: "site" }, t("Site")),
      h("option", { value: "station" }, t("Station")));
    const tariff = h("select", { id: "assign-tariff" });
    const fill = () => {
      const items = scope.value === "site" ? sites.map((s) => [s.id, s.name || s.id]) : scope.value === "station" ? stations.map((s) => [s.id, s.id]) : [];
      ui.clear(scopeId, items.map(([value, label]) => h("option", { value }, label)));
      scopeId.disabled = scope.value === "default";
    };
    scope.addEventListener("change", fill);
    fill();
    const error = h("div", { class: "error", role: "alert" });
    const assignForm = h("form", { class: "toolbar" }, field(t("Tariff"), tariff), field(t("Applies to"), scope), field(t("Which"), scopeId),
      h("button", { type: "submit", id: "assign-save" }, t("Assign")), error);
    assignForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      try {
        const body = { scope: scope.value };
        if (scope.value !== "default") body.scope_id = scopeId.value;
        await ctx.put(`/tariffs/${encodeURIComponent(tariff.value)}/assignment`, body);
        ui.toast(t("Tariff {id} assigned", { id: tariff.value }));
      } catch (exc) { error.textContent = exc.message; }
    });
    afterLoad = () => {
      const chosen = tariff.value;
      ui.clear(tariff, tariffs.map((x) => h("option", { value: x.id }, x.id)));
      if (chosen && tariffs.some((x) => x.id === chosen)) tariff.value = chosen;
    };
    ui.clear(assignBox, section(t("Assignment"), h("p", { class: "muted" }, t("A station's tariff wins over its site's, which wins over the network's default.")), h("div", { class: "card" }, assignForm)));
    root.append(assignBox);
  }
  await loadTariffs();
  root.append(section(t("Price calculator"), h("p", { class: "muted" }, t("A dry run: what a session would cost under the tariff. Nothing is stored.")),
    h("div", { class: "card" }, calcForm), calcResult));
}
