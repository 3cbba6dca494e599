// Small DOM helpers. Text always goes in as text nodes (never innerHTML): station and user data
// cannot inject markup.
import { t } from "./i18n.js";

// h("a", {href: "#/x", class: "badge", onclick: fn}, "text", child, [more])
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "style") el.style.cssText = value;  // CSSOM: allowed by the CSP, unlike style=""
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) { el.replaceChildren(); append(el, children); return el; }

export function badge(text, state = text) {
  return h("span", { class: `badge s-${String(state).replace(/[^\w-]/g, "")}` }, text);
}

// table([{label, value: row => node|text, num?: true}], rows, {empty, rowId})
export function table(columns, rows, { empty = t("Nothing here yet"), rowId, onRow } = {}) {
  const head = h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null }, c.label)));
  const body = h("tbody");
  if (!rows.length) {
    body.append(h("tr", {}, h("td", { class: "empty", colspan: columns.length }, empty)));
  }
  for (const row of rows) {
    const tr = h("tr", { "data-id": rowId ? rowId(row) : null });
    if (onRow) { tr.style.cursor = "pointer"; tr.addEventListener("click", () => onRow(row)); }
    for (const c of columns) tr.append(h("td", { class: c.num ? "num" : null }, c.value(row)));
    body.append(tr);
  }
  return h("table", { class: "data" }, h("thead", {}, head), body);
}

export function tile(label, value, id) {
  return h("div", { class: "tile", id }, h("div", { class: "value" }, value), h("div", { class: "label" }, label));
}

export function progress(done, total) {
  const share = total ? Math.round((100 * done) / total) : 0;
  const bar = h("span");
  bar.style.width = `${share}%`;  // set from script: the CSP refuses style="" attributes
  return h("div", { class: "progress", role: "progressbar", "aria-valuenow": share, "aria-valuemin": 0,
    "aria-valuemax": 100, title: `${done} / ${total}` }, bar);
}

// await confirmDialog("Reset CP-1?") -> true/false
export function confirmDialog(message, { confirm = t("Confirm"), danger = false } = {}) {
  return new Promise((resolve) => {
    const ok = h("button", { type: "button", class: danger ? "danger" : null, id: "confirm-ok" }, confirm);
    const cancel = h("button", { type: "button", class: "secondary", id: "confirm-cancel" }, t("Cancel"));
    const dialog = h("dialog", { id: "confirm-dialog" }, h("p", {}, message), h("div", { class: "actions" }, cancel, ok));
    const close = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    ok.addEventListener("click", () => close(true));
    cancel.addEventListener("click", () => close(false));
    dialog.addEventListener("cancel", () => close(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}

export function toast(message, { error = false, seconds = 5 } = {}) {
  const el = h("div", { class: error ? "toast error" : "toast", role: error ? "alert" : "status" }, message);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), seconds * 1000);
}

// A form whose fields are {name, label, type, value, options, required}; submit(values) may throw.
export function form(fields, submitLabel, submit) {
  const error = h("div", { class: "error", role: "alert" });
  const inputs = {};
  const el = h("form", { class: "toolbar" });
  for (const f of fields) {
    let input;
    if (f.type === "select") {
      input = h("select", { name: f.name, id: f.id }, (f.options || []).map(([value, label]) =>
        h("option", { value, selected: value === f.value }, label)));
    } else if (f.type === "textarea") {
      input = h("textarea", { name: f.name, id: f.id, rows: f.rows || 4 }, f.value ?? "");
    } else {
      input = h("input", { name: f.name, id: f.id, type: f.type || "text", value: f.value ?? "",
        required: f.required, placeholder: f.placeholder, step: f.step, min: f.min, max: f.max });
    }
    inputs[f.name] = input;
    el.append(h("label", {}, h("span", {}, f.label), input));
  }
  const button = h("button", { type: "submit" }, submitLabel);
  el.append(button, error);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      const values = {};
      for (const [name, input] of Object.entries(inputs)) values[name] = input.type === "checkbox" ? input.checked : input.value;
      await submit(values);
    } catch (exc) {
      error.textContent = exc.message;
    } finally {
      button.disabled = false;
    }
  });
  return el;
}
