// Helpers of the admin pages (firmware, analytics, drivers, tariffs, billing, webhooks, users).
//
// Widths and heights are set through el.style (CSSOM), which the console's Content-Security-Policy
// allows; a style="" attribute (as in a string of HTML) would be blocked.
import { h, progress } from "./ui.js";

// A progress bar with its text ("3 of 10 stations done") beside it.
export function progressBar(done, total, label) {
  return h("div", { class: "adm-progress" }, progress(done, total),
    h("small", { class: "muted" }, label ?? `${done} / ${total}`));
}

// Repeats fn every `seconds` until the returned stop function is called (or fn returns false).
export function poll(fn, seconds = 2) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    let again = true;
    try { again = (await fn()) !== false; } catch (exc) { console.error(exc); }
    if (!stopped && again) timer = setTimeout(tick, seconds * 1000);
  };
  timer = setTimeout(tick, seconds * 1000);
  return () => { stopped = true; clearTimeout(timer); };
}

// yyyy-mm-dd of a Date in local time (the value of <input type="date">).
export function isoDate(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

// <input type="datetime-local"> value -> ISO 8601 with the browser's offset.
export function localToIso(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${value.length === 16 ? value + ":00" : value}${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}

// A section with a heading and its body.
export function section(title, ...children) {
  return h("section", { class: "adm-section" }, h("h2", {}, title), ...children);
}

// A labelled field (for forms built by hand rather than ui.form).
export function field(label, input) {
  return h("label", {}, h("span", {}, label), input);
}

// A read-only text the operator copies once (a webhook's secret).
export function secretBox(text, id) {
  const input = h("input", { type: "text", readonly: true, value: text, id, class: "mono adm-secret" });
  input.addEventListener("focus", () => input.select());
  return input;
}

// Wraps an action button: disables it while running, shows the error as a toast.
export function action(ui, fn) {
  return async (event) => {
    const button = event && event.currentTarget;
    if (button) button.disabled = true;
    try { await fn(event); } catch (exc) { ui.toast(exc.message, { error: true }); } finally { if (button) button.disabled = false; }
  };
}

// POST a JSON text exactly as typed (an OCPI tariff keeps its numbers as written): lib/api.js
// would re-serialise an object. The CSRF token comes from /auth/me, errors as ApiError.
export async function postJsonText(path, text, query) {
  const { ApiError } = await import("./api.js");
  const me = await fetch("/api/v1/auth/me", { credentials: "same-origin", headers: { Accept: "application/json" } });
  const csrf = me.ok ? (await me.json()).csrf_token : null;
  let url = `/api/v1${path}`;
  const params = new URLSearchParams(Object.entries(query || {}).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  if (params.toString()) url += `?${params}`;
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const response = await fetch(url, { method: "POST", headers, body: text, credentials: "same-origin" });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = body && typeof body.detail === "string" ? body.detail
      : body && Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : `HTTP ${response.status}`;
    throw new ApiError(response.status, detail, body);
  }
  return body;
}
