// The console shell: sign-in, navigation, a hash router, and the context every page gets.
//
// A page is a module under pages/ that exports `render(root, ctx)`; it may return a cleanup
// function, called when the operator leaves the page (unsubscribe from live events, stop timers).
// ctx: { api, get, post, patch, del, download, t, fmt, h, ui, chart, events, user, may, params,
//        navigate, refreshNav }.
import * as apiModule from "./lib/api.js";
import * as chart from "./lib/chart.js";
import * as events from "./lib/events.js";
import { fmt, loadLanguage, pickLanguage, t, currentLanguage } from "./lib/i18n.js";
import * as ui from "./lib/ui.js";

const { h, clear } = ui;

// [route pattern, page module, nav label (msgid) or null, permission needed to see it]
// Patterns match the hash without "#": named groups become ctx.params.
export const ROUTES = [
  [/^\/$/, "dashboard", "Dashboard", "read"],
  [/^\/stations$/, "stations", "Stations", "read"],
  [/^\/stations\/(?<id>[^/]+)$/, "station", null, "read"],
  [/^\/sessions$/, "sessions", "Sessions", "read"],
  [/^\/sessions\/(?<id>\d+)$/, "session", null, "read"],
  [/^\/alerts$/, "alerts", "Alerts", "read"],
  [/^\/operations$/, "operations", "Operations", "read"],
  [/^\/firmware$/, "firmware", "Firmware", "read"],
  [/^\/analytics$/, "analytics", "Analytics", "read"],
  [/^\/drivers$/, "drivers", "Drivers and tokens", "read"],
  [/^\/tariffs$/, "tariffs", "Tariffs", "read"],
  [/^\/billing$/, "billing", "Invoices and payments", "manage_billing"],
  [/^\/webhooks$/, "webhooks", "Webhooks", "manage_network"],
  [/^\/users$/, "users", "Users and roles", "manage_access"],
];

let user = null;
let cleanup = null;

function may(permission) { return Boolean(user && user.permissions.includes(permission)); }

function navigate(hash) { window.location.hash = hash; }

function staticTexts() {
  document.getElementById("signin-prompt").textContent = t("Sign in with your operator account.");
  document.getElementById("signin-email-label").textContent = t("E-mail");
  document.getElementById("signin-password-label").textContent = t("Password");
  document.getElementById("signin-button").textContent = t("Sign in");
  document.getElementById("signout").textContent = t("Sign out");
  document.getElementById("live").title = t("Live updates");
  const select = document.getElementById("language");
  clear(select, [["en", "English"], ["bg", "Български"]].map(([value, label]) =>
    h("option", { value, selected: value === currentLanguage() }, label)));
}

function buildNav() {
  const nav = clear(document.getElementById("nav"));
  for (const [pattern, , label, permission] of ROUTES) {
    if (!label || !may(permission)) continue;
    const hash = "#" + pattern.source.replace(/^\^\\?/, "").replace(/\$$/, "").replace(/\\\//g, "/");
    nav.append(h("a", { href: hash, "data-page": hash }, t(label)));
  }
  markNav();
}

function markNav() {
  const current = (window.location.hash || "#/").split("?")[0];
  for (const link of document.querySelectorAll("#nav a")) {
    const target = link.getAttribute("href");
    const active = target === "#/" ? current === "#/" : current === target || current.startsWith(target + "/");
    link.classList.toggle("active", active);
  }
}

let routeSeq = 0;  // a page still loading when the operator moves on must not draw on the next one

async function route() {
  if (!user) return;
  const seq = ++routeSeq;
  if (cleanup) { try { cleanup(); } catch (exc) { console.error(exc); } cleanup = null; }
  const path = (window.location.hash || "#/").slice(1).split("?")[0] || "/";
  const query = new URLSearchParams((window.location.hash.split("?")[1]) || "");
  const root = h("div", { class: "page-view" });  // each page its own: a late one draws detached
  clear(document.getElementById("page"), root);
  markNav();
  const found = ROUTES.find(([pattern]) => pattern.test(path));
  if (!found) {
    root.append(h("h1", {}, t("Not found")), h("p", {}, t("There is no page at {path}.", { path })));
    return;
  }
  const [pattern, name, , permission] = found;
  if (!may(permission)) {
    root.append(h("h1", {}, t("Not allowed")), h("p", {}, t("Your role may not see this page.")));
    return;
  }
  const params = { ...(pattern.exec(path).groups || {}) };
  for (const [k, v] of query) params[k] = v;
  try {
    const page = await import(`./pages/${name}.js`);
    const ctx = { ...apiModule, t, fmt, h, ui, chart, events, user, may, params, navigate, refreshNav: buildNav };
    const result = await page.render(root, ctx);
    const done = typeof result === "function" ? result : null;
    if (seq !== routeSeq) { if (done) done(); return; }
    cleanup = done;
  } catch (exc) {
    console.error(exc);
    if (seq === routeSeq) root.append(h("p", { class: "error", role: "alert" }, exc.message || String(exc)));
  }
}

function showSignIn() {
  user = null;
  events.disconnect();
  document.getElementById("shell").hidden = true;
  document.getElementById("signin").hidden = false;
  document.getElementById("signin-email").focus();
}

function showShell(signedIn) {
  user = signedIn.user;
  apiModule.setCsrfToken(signedIn.csrf_token);
  document.getElementById("signin").hidden = true;
  document.getElementById("shell").hidden = false;
  document.getElementById("whoami").textContent = `${user.name || user.email} · ${t(user.role)}`;
  buildNav();
  events.connect();
  route();
}

async function main() {
  await loadLanguage(pickLanguage());
  staticTexts();
  apiModule.whenSignedOut(showSignIn);
  events.liveState((on) => document.getElementById("live").classList.toggle("on", on));
  document.getElementById("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("signin-error");
    error.textContent = "";
    try {
      const signedIn = await apiModule.post("/auth/login", {
        email: document.getElementById("signin-email").value,
        password: document.getElementById("signin-password").value,
      });
      document.getElementById("signin-password").value = "";
      showShell(signedIn);
    } catch (exc) {
      error.textContent = exc.message;
    }
  });
  document.getElementById("signout").addEventListener("click", async () => {
    await apiModule.post("/auth/logout").catch(() => null);
    showSignIn();
  });
  document.getElementById("language").addEventListener("change", async (event) => {
    await loadLanguage(event.target.value);
    staticTexts();
    if (user) { document.getElementById("whoami").textContent = `${user.name || user.email} · ${t(user.role)}`; buildNav(); route(); }
  });
  window.addEventListener("hashchange", route);
  try {
    showShell(await apiModule.get("/auth/me"));
  } catch {
    showSignIn();
  }
}

main();
