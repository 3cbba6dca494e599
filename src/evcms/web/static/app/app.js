// The evcms driver app: sign up and in, cards, finding a free connector, charging live,
// history with receipts, wallet, payment cards and subscription. Plain ES modules, no build.

import * as api from "./api.js";
import {
  LANGUAGES,
  currentLanguage,
  date,
  dateTime,
  duration,
  initialLanguage,
  money,
  number,
  setLanguage,
  t,
} from "./i18n.js";

const POLL_MS = 2000;
const START_WAIT_MS = 90000;

const state = {
  driver: null, // the signed-in driver's profile
  pendingStart: null, // {station_id, evse_id, since}: asked the station, no session yet
  stopping: new Set(), // session ids asked to stop
  finished: null, // the id of the session that ended last while we watched
};

// -- little DOM helpers ------------------------------------------------------------------------

/** Replace the children of node with these (arrays are flattened, empty ones skipped). */
function put(node, ...children) {
  node.replaceChildren(
    ...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false && c !== ""),
  );
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let fieldCount = 0;

/** A labelled input: {row, input}. */
function field(label, props = {}, hint = null) {
  const id = props.id || `field-${++fieldCount}`;
  const input = el("input", { ...props, id });
  const hintNode = hint ? el("p", { class: "hint", id: `${id}-hint`, text: hint }) : null;
  if (hintNode) input.setAttribute("aria-describedby", hintNode.id);
  return { row: el("div", { class: "field" }, el("label", { for: id, text: label }), input, hintNode), input };
}

function selectField(label, options, props = {}) {
  const id = props.id || `field-${++fieldCount}`;
  const select = el(
    "select",
    { ...props, id },
    options.map(([value, text]) => el("option", { value, text })),
  );
  return { row: el("div", { class: "field" }, el("label", { for: id, text: label }), select), select };
}

function heading(text) {
  return el("h1", { tabindex: "-1", text });
}

function alertBox() {
  return el("p", { class: "alert", role: "alert" });
}

function notice(text, kind = "info") {
  return el("p", { class: `notice ${kind}`, role: "status", text });
}

/** What went wrong, for people: the server's message says what to fix. */
function problem(error) {
  if (!(error instanceof api.ApiError)) return t("Something went wrong. Please try again.");
  if (error.status === 0) return t("No connection to the server. Check your network and try again.");
  if (error.status === 503) return t("This is not offered on this server.");
  return error.message || t("Something went wrong. Please try again.");
}

/** A form whose submit runs action(); errors show in its alert, the button waits meanwhile. */
function form(props, fields, buttonText, action) {
  const alert = alertBox();
  const button = el("button", { type: "submit", class: "primary", text: buttonText });
  const node = el("form", { ...props, novalidate: true }, fields, alert, button);
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.textContent = "";
    button.disabled = true;
    try {
      await action(alert);
    } catch (error) {
      alert.textContent = problem(error);
    } finally {
      button.disabled = false;
    }
  });
  return node;
}

function announce(text) {
  const toast = document.getElementById("toast");
  toast.textContent = "";
  requestAnimationFrame(() => (toast.textContent = text));
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => (toast.textContent = ""), 6000);
}

async function savePdf(path, name) {
  const blob = await api.download(path);
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// -- translated names of what the API says --------------------------------------------------

function connectorStatus(status) {
  const names = {
    Available: t("Available"),
    Preparing: t("Preparing"),
    Charging: t("Charging"),
    SuspendedEV: t("Paused by the car"),
    SuspendedEVSE: t("Paused by the station"),
    Finishing: t("Finishing"),
    Reserved: t("Reserved"),
    Unavailable: t("Unavailable"),
    Faulted: t("Out of order"),
    Occupied: t("Occupied"),
  };
  return names[status] || status;
}

function tokenStatus(card) {
  if (card.pending_approval) return t("Waiting for approval");
  const names = {
    Accepted: t("Active"),
    Blocked: t("Blocked"),
    Expired: t("Expired"),
    Invalid: t("Invalid"),
  };
  return names[card.status] || card.status;
}

function documentKind(kind) {
  const names = { receipt: t("Receipt"), invoice: t("Invoice"), credit_note: t("Credit note") };
  return names[kind] || kind;
}

function paymentMode(mode) {
  const names = {
    card: t("Card, charged after each session"),
    wallet: t("Prepaid wallet"),
    postpaid: t("Monthly invoice"),
  };
  return names[mode] || mode;
}

// -- polling: one loop at a time, stopped when the page changes ---------------------------------

let pollTimer = null;
let pollGeneration = 0;

function stopPolling() {
  pollGeneration += 1;
  clearTimeout(pollTimer);
  pollTimer = null;
}

function poll(step, every = POLL_MS) {
  const generation = pollGeneration;
  const next = async () => {
    if (generation !== pollGeneration) return;
    try {
      await step();
    } catch (error) {
      if (error instanceof api.ApiError && error.status === 401) return;
    }
    if (generation === pollGeneration) pollTimer = setTimeout(next, every);
  };
  pollTimer = setTimeout(next, every);
}

// -- navigation ---------------------------------------------------------------------------------

const SIGNED_OUT = { "#/signin": signInView, "#/signup": signUpView, "#/forgot": forgotView };
const SIGNED_IN = {
  "#/charge": chargeView,
  "#/history": historyView,
  "#/cards": cardsView,
  "#/pay": payView,
  "#/account": accountView,
};
const TABS = [
  ["#/charge", () => t("Charge")],
  ["#/history", () => t("History")],
  ["#/cards", () => t("Cards")],
  ["#/pay", () => t("Payment")],
  ["#/account", () => t("Account")],
];

export function go(hash) {
  history.pushState(null, "", `/app${hash}`);
  render();
}

function renderChrome() {
  const root = document.getElementById("root");
  root.replaceChildren();
  const language = selectField(
    t("Language"),
    Object.entries(LANGUAGES),
    { id: "language", class: "compact" },
  );
  language.select.value = currentLanguage();
  language.select.addEventListener("change", async () => {
    await setLanguage(language.select.value, { remember: true });
    if (state.driver) {
      try {
        state.driver = await api.patch("/me", { language: language.select.value });
      } catch {
        // the page still changes language; the profile catches up next time
      }
    }
    render();
  });
  const header = el(
    "header",
    { class: "bar" },
    el("a", { class: "brand", href: state.driver ? "#/charge" : "#/signin", text: "evcms" }),
    language.row,
  );
  const main = el("main", { id: "main" });
  root.append(header, main);
  if (state.driver) {
    const current = location.hash || "#/charge";
    const nav = el(
      "nav",
      { class: "tabs", "aria-label": t("Main") },
      TABS.map(([hash, name]) =>
        el("a", { href: hash, "aria-current": current === hash ? "page" : undefined, text: name() }),
      ),
    );
    root.append(nav);
  }
  root.append(el("div", { id: "toast", class: "toast", role: "status", "aria-live": "polite" }));
  return main;
}

async function render() {
  stopPolling();
  if (location.hash && location.pathname !== "/app") {
    // a link inside the app, followed from a mailed link's page: back to the app's own URL
    history.replaceState(null, "", `/app${location.hash}`);
  }
  const path = location.pathname.replace(/\/+$/, "");
  let view;
  if (path.endsWith("/verify-email")) view = verifyEmailView;
  else if (path.endsWith("/reset-password")) view = resetPasswordView;
  else if (state.driver) view = SIGNED_IN[location.hash] || chargeView;
  else view = SIGNED_OUT[location.hash] || signInView;
  const main = renderChrome();
  try {
    await view(main);
  } catch (error) {
    main.append(el("p", { class: "alert", role: "alert", text: problem(error) }));
  }
  const title = main.querySelector("h1");
  if (title) {
    document.title = `${title.textContent} · evcms`;
    title.focus();
  }
}

async function signedIn(secret, driver) {
  api.keepToken(secret);
  state.driver = driver;
  if (driver.language && driver.language !== currentLanguage()) {
    await setLanguage(driver.language);
  }
  go("#/charge");
}

function signedOut() {
  state.driver = null;
  go("#/signin");
}

// -- signed out: sign in, sign up, forgotten password, mailed links ------------------------------

async function signInView(main) {
  const email = field(t("E-mail address"), { type: "email", autocomplete: "email", required: true, id: "signin-email" });
  const password = field(t("Password"), { type: "password", autocomplete: "current-password", required: true, id: "signin-password" });
  main.append(
    heading(t("Sign in")),
    form({ id: "signin" }, [email.row, password.row], t("Sign in"), async (alert) => {
      if (!email.input.value || !password.input.value) {
        alert.textContent = t("Enter your e-mail address and password.");
        return;
      }
      const done = await api.post("/drivers/login", {
        email: email.input.value.trim(),
        password: password.input.value,
      });
      await signedIn(done.token, done.driver);
    }),
    el(
      "p",
      { class: "links" },
      el("a", { href: "#/signup", text: t("Create an account") }),
      el("a", { href: "#/forgot", text: t("Forgot your password?") }),
    ),
  );
}

async function signUpView(main) {
  const name = field(t("Your name"), { autocomplete: "name", id: "signup-name" });
  const email = field(t("E-mail address"), { type: "email", autocomplete: "email", required: true, id: "signup-email" });
  const password = field(
    t("Password"),
    { type: "password", autocomplete: "new-password", required: true, id: "signup-password" },
    t("At least 10 characters, mixing at least two kinds: lower-case, upper-case, digits, symbols."),
  );
  const done = el("div", { id: "signup-done" });
  const signUp = form({ id: "signup" }, [name.row, email.row, password.row], t("Create account"), async () => {
    await api.post("/drivers/register", {
      name: name.input.value.trim(),
      email: email.input.value.trim(),
      password: password.input.value,
      language: currentLanguage(),
    });
    signUp.hidden = true;
    done.append(
      notice(t("Almost done: we sent a link to {email}. Open it to confirm your address, then sign in.", { email: email.input.value.trim() }), "success"),
      el("a", { href: "#/signin", class: "button", text: t("Sign in") }),
    );
  });
  main.append(heading(t("Create an account")), signUp, done, el("p", { class: "links" }, el("a", { href: "#/signin", text: t("I have an account") })));
}

async function forgotView(main) {
  const email = field(t("E-mail address"), { type: "email", autocomplete: "email", required: true, id: "forgot-email" });
  const done = el("div");
  const request = form({ id: "forgot" }, [email.row], t("Send me a link"), async () => {
    await api.post("/drivers/password-reset/request", { email: email.input.value.trim() });
    request.hidden = true;
    done.append(notice(t("If an account has this address, a link to choose a new password is on its way."), "success"));
  });
  main.append(heading(t("Reset your password")), request, done, el("p", { class: "links" }, el("a", { href: "#/signin", text: t("Back to sign in") })));
}

function linkToken() {
  return new URLSearchParams(location.search).get("token") || "";
}

function backToSignIn() {
  return el("button", { type: "button", class: "primary", text: t("Sign in"), onclick: () => go("#/signin") });
}

async function verifyEmailView(main) {
  main.append(heading(t("Confirm your e-mail address")));
  const result = el("div", { id: "verify-result" });
  main.append(result);
  try {
    await api.post("/drivers/verify-email", { token: linkToken() });
    result.append(notice(t("Your e-mail address is confirmed. You can sign in now."), "success"), backToSignIn());
  } catch (error) {
    result.append(el("p", { class: "alert", role: "alert", text: problem(error) }));
    const email = field(t("E-mail address"), { type: "email", autocomplete: "email" });
    const resend = form({}, [email.row], t("Send a new link"), async () => {
      await api.post("/drivers/verify-email/resend", { email: email.input.value.trim() });
      resend.replaceWith(notice(t("If an unconfirmed account has this address, a new link is on its way."), "success"));
    });
    result.append(resend);
  }
}

async function resetPasswordView(main) {
  const password = field(
    t("New password"),
    { type: "password", autocomplete: "new-password", id: "reset-password" },
    t("At least 10 characters, mixing at least two kinds: lower-case, upper-case, digits, symbols."),
  );
  const done = el("div");
  const reset = form({ id: "reset" }, [password.row], t("Save the new password"), async () => {
    await api.post("/drivers/password-reset/confirm", { token: linkToken(), password: password.input.value });
    reset.hidden = true;
    done.append(notice(t("Your password is changed. Sign in with the new one."), "success"), backToSignIn());
  });
  main.append(heading(t("Choose a new password")), reset, done);
}

// -- charge: find a free connector, start, watch, stop ----------------------------------------

async function usableCards() {
  const page = await api.get("/me/tokens");
  return page.tokens.filter((card) => card.status === "Accepted" && !card.pending_approval);
}

async function chargeView(main) {
  const live = el("section", { id: "live", "aria-labelledby": "live-title" });
  const find = el("section", { id: "find", "aria-labelledby": "find-title" });
  main.append(heading(t("Charge")), live, find);
  const watcher = liveSessions(live);
  await watcher();
  const reloadSites = await findConnectors(find, watcher);
  let ticks = 0;
  poll(async () => {
    await watcher();
    ticks += 1;
    if (reloadSites && ticks % 3 === 0) await reloadSites(); // connector statuses change too
  });
}

/** The live panel: running sessions with kWh, kW, time and cost; refreshed by polling. */
function liveSessions(section) {
  const title = el("h2", { id: "live-title", text: t("Charging now") });
  const list = el("div", { class: "live-list" });
  const waiting = el("div");
  const finished = el("div", { id: "finished" });
  section.append(title, waiting, list, finished);
  const cards = new Map();

  return async function refresh() {
    const active = (await api.get("/me/sessions?status=Active&limit=10")).sessions;
    if (state.pendingStart) {
      const started = active.some(
        (s) => s.station_id === state.pendingStart.station_id && s.evse_id === state.pendingStart.evse_id,
      );
      if (started || Date.now() - state.pendingStart.since > START_WAIT_MS) state.pendingStart = null;
    }
    put(waiting, 
      state.pendingStart
        ? notice(t("Waiting for the station to start… plug in your car if you have not yet."))
        : "",
    );
    for (const [id, card] of cards) {
      if (!active.some((s) => s.id === id)) {
        card.node.remove();
        cards.delete(id);
        state.stopping.delete(id);
        state.finished = id;
      }
    }
    for (const session of active) {
      let card = cards.get(session.id);
      if (!card) {
        card = sessionCard(session);
        cards.set(session.id, card);
        list.append(card.node);
      }
      await card.update(session);
    }
    title.hidden = active.length === 0 && !state.pendingStart;
    if (state.finished !== null) await showFinished(finished, state.finished);
  };
}

function sessionCard(session) {
  const value = (cls) => el("dd", { class: cls });
  const energy = value("energy");
  const power = value("power");
  const time = value("duration");
  const cost = value("cost");
  const status = el("p", { class: "session-state" });
  const stop = el("button", { type: "button", class: "danger", text: t("Stop charging") });
  const alert = alertBox();
  const node = el(
    "article",
    { class: "card live", "data-session": session.id, "aria-live": "polite" },
    el("h3", { text: t("{station}, connector {evse}", { station: session.station_id, evse: session.evse_id }) }),
    status,
    el(
      "dl",
      { class: "figures" },
      el("div", {}, el("dt", { text: t("Energy") }), energy),
      el("div", {}, el("dt", { text: t("Power") }), power),
      el("div", {}, el("dt", { text: t("Time") }), time),
      el("div", {}, el("dt", { text: t("Cost so far") }), cost),
    ),
    alert,
    stop,
  );
  stop.addEventListener("click", async () => {
    alert.textContent = "";
    stop.disabled = true;
    try {
      const answer = await api.post(`/me/sessions/${session.id}/stop`);
      if (answer.outcome === "result" && answer.payload.status === "Accepted") {
        state.stopping.add(session.id);
        status.textContent = t("Stopping…");
        announce(t("The station is stopping the session."));
      } else {
        alert.textContent = t("The station refused to stop. Try again, or unplug at the station.");
        stop.disabled = false;
      }
    } catch (error) {
      alert.textContent = problem(error);
      stop.disabled = false;
    }
  });
  return {
    node,
    async update(current) {
      energy.textContent = `${number(current.energy_kwh, 2)} kWh`;
      power.textContent = current.power_w === null ? "—" : `${number(Number(current.power_w) / 1000, 1)} kW`;
      time.textContent = duration(current.duration_seconds);
      if (state.stopping.has(current.id)) {
        status.textContent = t("Stopping…");
        stop.disabled = true;
      } else {
        status.textContent = t("Charging since {time}", { time: dateTime(current.started_at) });
      }
      try {
        const price = await api.get(`/me/sessions/${current.id}/price`);
        cost.textContent = money(price.total_incl_vat, price.currency);
      } catch (error) {
        if (!(error instanceof api.ApiError) || error.status !== 404) throw error;
        cost.textContent = t("No price set");
      }
    },
  };
}

async function showFinished(section, sessionId) {
  const session = await api.get(`/me/sessions/${sessionId}`);
  let charge = null;
  try {
    charge = await api.get(`/me/sessions/${sessionId}/charge`);
  } catch (error) {
    if (!(error instanceof api.ApiError) || ![404, 503].includes(error.status)) throw error;
  }
  const key = JSON.stringify([session.status, charge && charge.status, charge && charge.invoice_id]);
  if (section.dataset.key === key) return;
  section.dataset.key = key;
  const rows = [
    [t("Energy"), `${number(session.energy_kwh, 2)} kWh`],
    [t("Time"), duration(session.duration_seconds)],
  ];
  if (charge && charge.status !== "pending") rows.push([t("Cost"), money(charge.total_incl_vat, charge.currency)]);
  const receipt = charge && charge.invoice_id
    ? el("button", {
        type: "button",
        class: "primary",
        id: "finished-receipt",
        text: t("Download receipt (PDF)"),
        onclick: () => savePdf(`/me/invoices/${charge.invoice_id}/pdf`, `receipt-${session.id}.pdf`),
      })
    : charge && charge.status === "pending"
      ? notice(t("Working out the price…"))
      : null;
  put(section, 
    el(
      "article",
      { class: "card done" },
      el("h2", { text: session.status === "Ended" ? t("Charging finished") : t("Stopping…") }),
      el("dl", { class: "figures" }, rows.map(([name, value]) => el("div", {}, el("dt", { text: name }), el("dd", { text: value })))),
      receipt,
    ),
  );
}

async function findConnectors(section, refreshLive) {
  section.append(el("h2", { id: "find-title", text: t("Find a free connector") }));
  let cards;
  try {
    cards = await usableCards();
  } catch (error) {
    section.append(el("p", { class: "alert", role: "alert", text: problem(error) }));
    return null;
  }
  if (cards.length === 0) {
    section.append(
      notice(t("To charge, add a card first. A new card can be used once the operator approves it.")),
      el("a", { href: "#/cards", class: "button", text: t("Add a card") }),
    );
  }
  const card = selectField(
    t("Charge with card"),
    cards.map((c) => [c.id, c.label ? `${c.label} (${c.id})` : c.id]),
    { id: "charge-card" },
  );
  const search = field(t("Search by name or address"), { type: "search", id: "site-search" });
  const near = el("button", { type: "button", class: "secondary", text: t("Nearest to me") });
  const freeOnly = el("input", { type: "checkbox", id: "free-only" });
  const results = el("div", { id: "sites", "aria-live": "polite" });
  const alert = alertBox();
  let position = null;
  let sites = [];

  const draw = () => {
    const wanted = search.input.value.trim().toLocaleLowerCase();
    const shown = sites.filter(
      (site) =>
        (!freeOnly.checked || site.free_connectors > 0) &&
        (!wanted ||
          `${site.name} ${site.address} ${site.stations.map((s) => s.name).join(" ")}`
            .toLocaleLowerCase()
            .includes(wanted)),
    );
    put(results, 
      shown.length === 0 ? notice(t("No charging sites found.")) : "",
      shown.map((site) => siteCard(site, cards.length > 0 ? () => card.select.value : null, alert, refreshLive, load)),
    );
  };
  let shown = "";
  const load = async () => {
    const query = position ? `?lat=${position.lat}&lon=${position.lon}` : "";
    const found = (await api.get(`/me/sites${query}`)).sites;
    const key = JSON.stringify(found);
    if (key === shown) return; // nothing changed: keep the list (and the focus) as it is
    shown = key;
    sites = found;
    draw();
  };
  search.input.addEventListener("input", draw);
  freeOnly.addEventListener("change", draw);
  near.addEventListener("click", () => {
    if (!navigator.geolocation) {
      alert.textContent = t("Your browser cannot tell where you are.");
      return;
    }
    navigator.geolocation.getCurrentPosition(
      async (found) => {
        position = { lat: found.coords.latitude.toFixed(5), lon: found.coords.longitude.toFixed(5) };
        await load().catch((error) => (alert.textContent = problem(error)));
      },
      () => (alert.textContent = t("Your position is not available; search by name instead.")),
    );
  });
  section.append(
    cards.length > 1 ? card.row : "",
    search.row,
    el("div", { class: "row" }, el("label", { class: "check", for: "free-only" }, freeOnly, t("Only free connectors")), near),
    alert,
    results,
  );
  await load();
  return load;
}

function siteCard(site, chosenCard, alert, refreshLive, reload) {
  const mapLink =
    site.latitude !== null && site.longitude !== null
      ? el("a", {
          href: `geo:${site.latitude},${site.longitude}`,
          class: "map",
          text: t("Open in maps"),
        })
      : null;
  return el(
    "article",
    { class: "card site", "data-site": site.id || "" },
    el("h3", { text: site.id === null ? t("Other stations") : site.name }),
    site.address ? el("p", { class: "address", text: site.address }) : null,
    el(
      "p",
      { class: "meta" },
      t("{count} free", { count: site.free_connectors }),
      site.distance_km !== null ? ` · ${t("{km} km away", { km: number(site.distance_km, 1) })}` : "",
      mapLink ? " · " : "",
      mapLink,
    ),
    site.stations.map((station) =>
      el(
        "div",
        { class: "station", "data-station": station.id },
        el("h4", {}, station.name, station.online ? "" : el("span", { class: "badge off", text: t("Offline") })),
        station.connectors.length === 0 ? el("p", { class: "meta", text: t("No connector status yet") }) : "",
        el(
          "ul",
          { class: "connectors" },
          station.connectors.map((connector) =>
            el(
              "li",
              { class: connector.free ? "free" : "busy" },
              el("span", {}, t("Connector {evse}", { evse: connector.evse_id }), " · ", el("strong", { text: connectorStatus(connector.status) })),
              connector.free && chosenCard
                ? el("button", {
                    type: "button",
                    class: "primary",
                    "aria-label": t("Start charging at {station}, connector {evse}", { station: station.name, evse: connector.evse_id }),
                    text: t("Start"),
                    onclick: async (event) => {
                      const button = event.currentTarget;
                      alert.textContent = "";
                      button.disabled = true;
                      try {
                        const answer = await api.post("/me/sessions/start", {
                          station_id: station.id,
                          evse_id: connector.evse_id,
                          token_id: chosenCard(),
                        });
                        if (answer.outcome === "result" && answer.payload.status === "Accepted") {
                          state.pendingStart = { station_id: station.id, evse_id: connector.evse_id, since: Date.now() };
                          state.finished = null;
                          announce(t("The station accepted. Charging starts when your car is plugged in."));
                          await refreshLive();
                          document.getElementById("live").scrollIntoView({ behavior: "smooth" });
                        } else {
                          alert.textContent = t("The station refused to start. Try another connector.");
                        }
                        await reload();
                      } catch (error) {
                        alert.textContent = problem(error);
                        button.disabled = false;
                      }
                    },
                  })
                : null,
            ),
          ),
        ),
      ),
    ),
  );
}

// -- history: sessions and documents -----------------------------------------------------------

async function historyView(main) {
  main.append(heading(t("History")));
  const sessions = (await api.get("/me/sessions?limit=30")).sessions;
  const list = el("ul", { class: "history", id: "history" });
  if (sessions.length === 0) list.append(el("li", { class: "meta", text: t("No charging sessions yet.") }));
  main.append(el("h2", { text: t("Charging sessions") }), list);
  for (const session of sessions) {
    let cost = "—";
    let receipt = null;
    if (session.status === "Ended") {
      try {
        const charge = await api.get(`/me/sessions/${session.id}/charge`);
        cost = charge.status === "pending" ? t("Working out the price…") : money(charge.total_incl_vat, charge.currency);
        if (charge.invoice_id) {
          receipt = el("button", {
            type: "button",
            class: "secondary",
            text: t("Receipt"),
            onclick: () => savePdf(`/me/invoices/${charge.invoice_id}/pdf`, `receipt-${session.id}.pdf`),
          });
        }
      } catch (error) {
        if (!(error instanceof api.ApiError)) throw error;
      }
    } else {
      cost = t("Charging now");
    }
    list.append(
      el(
        "li",
        { class: "card", "data-session": session.id },
        el("h3", { text: `${dateTime(session.started_at)} · ${session.station_id}` }),
        el(
          "dl",
          { class: "figures" },
          el("div", {}, el("dt", { text: t("Energy") }), el("dd", { text: `${number(session.energy_kwh, 2)} kWh` })),
          el("div", {}, el("dt", { text: t("Time") }), el("dd", { text: duration(session.duration_seconds) })),
          el("div", {}, el("dt", { text: t("Cost") }), el("dd", { text: cost })),
        ),
        receipt,
      ),
    );
  }
  const documents = el("ul", { class: "history", id: "documents" });
  main.append(el("h2", { text: t("Receipts and invoices") }), documents);
  try {
    const found = (await api.get("/me/invoices?limit=50")).invoices;
    if (found.length === 0) documents.append(el("li", { class: "meta", text: t("No documents yet.") }));
    for (const doc of found) {
      documents.append(
        el(
          "li",
          { class: "card row" },
          el("span", {}, el("strong", { text: `${documentKind(doc.kind)} ${doc.number}` }), el("br"), `${date(doc.issued_at)} · ${money(doc.total_incl_vat, doc.currency)}`),
          el("button", {
            type: "button",
            class: "secondary",
            "aria-label": t("Download {document} as PDF", { document: doc.number }),
            text: "PDF",
            onclick: () => savePdf(`/me/invoices/${doc.id}/pdf`, `${doc.number}.pdf`),
          }),
        ),
      );
    }
  } catch (error) {
    documents.append(el("li", { class: "meta", text: problem(error) }));
  }
}

// -- cards ---------------------------------------------------------------------------------------

async function cardsView(main) {
  main.append(heading(t("Your cards")));
  const list = el("ul", { class: "cards", id: "cards" });
  const draw = async () => {
    const found = (await api.get("/me/tokens")).tokens;
    put(list, 
      found.length === 0 ? el("li", { class: "meta", text: t("No cards yet.") }) : "",
      found.map((card) =>
        el(
          "li",
          { class: "card row", "data-card": card.id },
          el(
            "span",
            {},
            el("strong", { text: card.label || card.id }),
            el("br"),
            el("span", { class: "meta", text: card.id }),
            " ",
            el("span", { class: `badge ${card.status === "Accepted" && !card.pending_approval ? "on" : "off"}`, text: tokenStatus(card) }),
          ),
          card.status === "Blocked"
            ? null
            : el("button", {
                type: "button",
                class: "secondary",
                text: t("Block"),
                "aria-label": t("Block card {card}", { card: card.label || card.id }),
                onclick: async () => {
                  if (!confirm(t("Block this card? It can no longer start charging."))) return;
                  await api.post(`/me/tokens/${encodeURIComponent(card.id)}/block`);
                  announce(t("The card is blocked."));
                  await draw();
                },
              }),
          el("button", {
            type: "button",
            class: "secondary",
            text: t("Remove"),
            "aria-label": t("Remove card {card}", { card: card.label || card.id }),
            onclick: async () => {
              if (!confirm(t("Remove this card from your account?"))) return;
              await api.del(`/me/tokens/${encodeURIComponent(card.id)}`);
              announce(t("The card is removed."));
              await draw();
            },
          }),
        ),
      ),
    );
  };
  const uid = field(t("Card number (UID)"), { id: "card-id", autocomplete: "off", required: true }, t("Printed on the card or its sticker."));
  const label = field(t("Name for the card"), { id: "card-label", autocomplete: "off" });
  main.append(
    list,
    el("h2", { text: t("Add a card") }),
    form({ id: "add-card" }, [uid.row, label.row], t("Add card"), async (alert) => {
      if (!uid.input.value.trim()) {
        alert.textContent = t("Enter the card number.");
        return;
      }
      const card = await api.post("/me/tokens", { id: uid.input.value.trim(), label: label.input.value.trim() });
      uid.input.value = "";
      label.input.value = "";
      announce(card.pending_approval ? t("Card added. It can charge once the operator approves it.") : t("Card added."));
      await draw();
    }),
  );
  await draw();
}

// -- payment: how I pay, wallet, payment cards, subscription ------------------------------------

async function section(main, title, id, fill) {
  const node = el("section", { id, "aria-labelledby": `${id}-title` }, el("h2", { id: `${id}-title`, text: title }));
  main.append(node);
  try {
    await fill(node);
  } catch (error) {
    node.append(el("p", { class: "meta", text: problem(error) }));
  }
}

async function payView(main) {
  main.append(heading(t("Payment")));
  await section(main, t("How you pay"), "pay-mode", async (node) => {
    const profile = await api.get("/me/billing-profile");
    const mode = selectField(t("Pay by"), ["card", "wallet", "postpaid"].map((m) => [m, paymentMode(m)]), { id: "payment-mode" });
    mode.select.value = profile.mode;
    const alert = alertBox();
    mode.select.addEventListener("change", async () => {
      alert.textContent = "";
      try {
        await api.put("/me/billing-profile", { mode: mode.select.value });
        announce(t("Saved."));
      } catch (error) {
        alert.textContent = problem(error);
        mode.select.value = profile.mode;
      }
    });
    node.append(mode.row, alert);
  });
  await section(main, t("Wallet"), "wallet", async (node) => {
    const balance = el("p", { class: "balance", id: "wallet-balance" });
    const refresh = async () => {
      const wallet = await api.get("/me/wallet");
      balance.textContent = money(wallet.balance, wallet.currency);
      return wallet;
    };
    const wallet = await refresh();
    const amount = field(t("Amount ({currency})", { currency: wallet.currency }), { id: "top-up-amount", inputmode: "decimal", value: "20.00" });
    node.append(
      balance,
      form({ id: "top-up" }, [amount.row], t("Top up with my card"), async (alert) => {
        const value = amount.input.value.trim().replace(",", ".");
        if (!/^\d+(\.\d{1,2})?$/.test(value) || Number(value) <= 0) {
          alert.textContent = t("Enter an amount such as 20.00.");
          return;
        }
        const done = await api.post("/me/wallet/top-ups", { amount: value }, { "Idempotency-Key": crypto.randomUUID() });
        announce(t("Top-up of {amount} requested; the balance updates when the payment completes.", { amount: money(done.amount, done.currency) }));
        for (const wait of [1500, 4000, 8000]) setTimeout(() => refresh().catch(() => {}), wait);
      }),
    );
  });
  await section(main, t("Payment cards"), "payment-methods", async (node) => {
    const list = el("ul", { class: "cards" });
    const draw = async () => {
      const methods = (await api.get("/me/payment-methods")).payment_methods;
      put(list, 
        methods.length === 0 ? el("li", { class: "meta", text: t("No payment card yet.") }) : "",
        methods.map((m) =>
          el(
            "li",
            { class: "card row", "data-method": m.id },
            el(
              "span",
              {},
              el("strong", { text: `${(m.brand || t("Card")).toUpperCase()} •••• ${m.last4 || "????"}` }),
              m.exp_month ? ` ${String(m.exp_month).padStart(2, "0")}/${m.exp_year}` : "",
              m.is_default ? el("span", { class: "badge on", text: t("Default") }) : "",
            ),
            el(
              "span",
              { class: "actions" },
              m.is_default
                ? null
                : el("button", { type: "button", class: "secondary", text: t("Make default"), onclick: async () => { await api.put(`/me/payment-methods/${encodeURIComponent(m.id)}/default`); await draw(); } }),
              el("button", {
                type: "button",
                class: "secondary",
                text: t("Remove"),
                onclick: async () => {
                  if (!confirm(t("Remove this payment card?"))) return;
                  await api.del(`/me/payment-methods/${encodeURIComponent(m.id)}`);
                  await draw();
                },
              }),
            ),
          ),
        ),
      );
    };
    await draw();
    const method = field(t("Card from the payment provider"), { id: "payment-method", autocomplete: "off", placeholder: "pm_..." }, t("The payment method id your payment provider gave for your card."));
    node.append(
      list,
      form({ id: "add-payment-method" }, [method.row], t("Add payment card"), async (alert) => {
        if (!method.input.value.trim()) {
          alert.textContent = t("Enter the payment method id.");
          return;
        }
        await api.post("/me/payment-methods", { payment_method: method.input.value.trim() });
        method.input.value = "";
        announce(t("Payment card added."));
        await draw();
      }),
    );
  });
  await section(main, t("Subscription"), "subscription", async (node) => {
    const draw = async () => {
      let mine = null;
      try {
        mine = await api.get("/me/subscription");
      } catch (error) {
        if (!(error instanceof api.ApiError) || error.status !== 404) throw error;
      }
      const plans = (await api.get("/me/plans")).plans;
      const alert = alertBox();
      const act = (action) => async () => {
        alert.textContent = "";
        try {
          await action();
          await draw();
        } catch (error) {
          alert.textContent = problem(error);
        }
      };
      const current = mine
        ? el(
            "article",
            { class: "card" },
            el("h3", { text: mine.plan.name }),
            el("p", { text: t("{fee} a month, {kwh} kWh included, {left} kWh left this period", { fee: money(mine.plan.fee_incl_vat, mine.plan.currency), kwh: number(mine.usage.included_kwh, 0), left: number(mine.usage.left_kwh, 1) }) }),
            el("p", { class: "meta", text: mine.renews ? t("Renews on {date}", { date: date(mine.period_end) }) : t("Ends on {date}", { date: date(mine.period_end) }) }),
            mine.renews
              ? el("button", { type: "button", class: "danger", text: t("Cancel subscription"), onclick: act(async () => { if (confirm(t("Cancel at the end of this period?"))) await api.del("/me/subscription"); }) })
              : null,
          )
        : el("p", { class: "meta", text: t("You have no subscription.") });
      const offers = plans
        .filter((plan) => !mine || plan.id !== mine.plan_id)
        .map((plan) =>
          el(
            "article",
            { class: "card", "data-plan": plan.id },
            el("h3", { text: plan.name }),
            el("p", { text: t("{fee} a month", { fee: money(plan.fee_incl_vat, plan.currency) }) }),
            el("p", { class: "meta", text: t("{kwh} kWh included, {discount}% off the rest", { kwh: number(plan.included_kwh, 0), discount: number(plan.discount_percent, 0) }) }),
            mine && mine.renews
              ? null
              : el("button", { type: "button", class: "primary", text: t("Subscribe"), onclick: act(() => api.post("/me/subscription", { plan_id: plan.id })) }),
          ),
        );
      put(node, node.firstChild, current, offers, alert);
    };
    await draw();
  });
}

// -- account -------------------------------------------------------------------------------------

async function accountView(main) {
  state.driver = await api.get("/me");
  const driver = state.driver;
  const name = field(t("Your name"), { id: "profile-name", autocomplete: "name", value: driver.name });
  main.append(
    heading(t("Account")),
    el("p", {}, el("strong", { text: driver.email })),
    form({ id: "profile" }, [name.row], t("Save"), async () => {
      state.driver = await api.patch("/me", { name: name.input.value.trim() });
      announce(t("Saved."));
    }),
    el("button", {
      type: "button",
      class: "secondary",
      id: "sign-out",
      text: t("Sign out"),
      onclick: async () => {
        try {
          await api.post("/drivers/logout");
        } catch {
          // signed out here either way
        }
        api.keepToken(null);
        signedOut();
      },
    }),
  );
}

// -- start ----------------------------------------------------------------------------------------

async function start() {
  api.whenSignedOut(() => {
    state.driver = null;
    go("#/signin");
  });
  await setLanguage(initialLanguage()).catch(() => setLanguage("en"));
  if (api.token()) {
    try {
      state.driver = await api.get("/me");
      if (state.driver.language && state.driver.language !== currentLanguage()) {
        await setLanguage(state.driver.language);
      }
    } catch {
      api.keepToken(null);
      state.driver = null;
    }
  }
  window.addEventListener("hashchange", render);
  window.addEventListener("popstate", render);
  await render();
}

start();
