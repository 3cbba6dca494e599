// Stations: a searchable, filterable list with live status, and a map of the sites drawn as an
// SVG from their coordinates (no map tiles: those would need the internet).
import { CONNECTOR_STATES, connectorName, debounce, label, onlineBadge, stateBadge, subscribe } from "../lib/console_core.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (value !== null && value !== undefined) el.setAttribute(name, String(value));
  }
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

export async function render(root, ctx) {
  const { h, t, fmt, ui } = ctx;
  const [sites, list] = await Promise.all([ctx.get("/sites"), ctx.get("/stations")]);
  const stations = new Map(list.map((s) => [s.id, s]));
  const siteById = new Map(sites.map((s) => [s.id, s]));
  const filters = {
    q: ctx.params.q || "",
    site: ctx.params.site || "",
    online: ctx.params.online || "",
    status: ctx.params.status || "",
  };

  const search = h("input", { id: "station-search", type: "search", value: filters.q,
    placeholder: t("Id, name or model"), "aria-label": t("Search") });
  const siteSelect = h("select", { id: "station-site", "aria-label": t("Site") },
    h("option", { value: "" }, t("All sites")),
    sites.map((s) => h("option", { value: s.id, selected: s.id === filters.site }, s.name || s.id)),
    h("option", { value: "-", selected: filters.site === "-" }, t("No site")));
  const onlineSelect = h("select", { id: "station-online", "aria-label": t("Connection") },
    [["", t("Online and offline")], ["yes", t("Online")], ["no", t("Offline")]].map(([v, l]) =>
      h("option", { value: v, selected: v === filters.online }, l)));
  const statusSelect = h("select", { id: "station-status", "aria-label": t("Connector status") },
    h("option", { value: "" }, t("Any connector status")),
    CONNECTOR_STATES.map((s) => h("option", { value: s, selected: s === filters.status }, label(s))));
  const count = h("span", { class: "muted", id: "station-count" });
  const tableBox = h("div", { id: "stations" });
  const mapBox = h("div", { id: "sites-map", class: "sites-map card" });

  root.append(
    h("h1", {}, t("Stations")),
    h("div", { class: "toolbar" },
      h("label", {}, h("span", {}, t("Search")), search),
      h("label", {}, h("span", {}, t("Site")), siteSelect),
      h("label", {}, h("span", {}, t("Connection")), onlineSelect),
      h("label", {}, h("span", {}, t("Connector status")), statusSelect),
      count),
    h("div", { class: "stations-layout" }, tableBox, h("div", {}, h("h2", {}, t("Sites")), mapBox)),
  );

  function matches(s) {
    const q = filters.q.trim().toLowerCase();
    if (q) {
      const hay = [s.id, s.name, s.info && s.info.model, s.info && s.info.vendor].filter(Boolean).join(" ").toLowerCase();
      if (!hay.includes(q)) return false;
    }
    if (filters.site === "-" ? s.site_id : filters.site && s.site_id !== filters.site) return false;
    const online = Boolean(s.presence && s.presence.connected);
    if (filters.online === "yes" && !online) return false;
    if (filters.online === "no" && online) return false;
    if (filters.status && !(s.connectors || []).some((c) => c.status === filters.status)) return false;
    return true;
  }

  function acceptButton(s) {
    if (s.registration !== "Pending" || !ctx.may("manage_network")) return null;
    return h("button", { type: "button", class: "secondary accept", onclick: async (event) => {
      event.stopPropagation();
      event.target.disabled = true;
      try {
        const updated = await ctx.post(`/stations/${encodeURIComponent(s.id)}/accept`);
        stations.set(s.id, { ...s, ...(updated || {}), registration: "Accepted" });
        ui.toast(t("{station} accepted.", { station: s.id }));
        draw();
      } catch (exc) {
        ui.toast(exc.message, { error: true });
        event.target.disabled = false;
      }
    } }, t("Accept"));
  }

  function drawTable() {
    const rows = [...stations.values()].filter(matches).sort((a, b) => a.id.localeCompare(b.id));
    count.textContent = t("{shown} of {total} stations", { shown: rows.length, total: stations.size });
    ui.clear(tableBox, ui.table([
      { label: t("Station"), value: (s) => h("a", { href: `#/stations/${encodeURIComponent(s.id)}` }, s.id) },
      { label: t("Name"), value: (s) => s.name || "" },
      { label: t("Site"), value: (s) => (s.site_id ? (siteById.get(s.site_id) || {}).name || s.site_id : "–") },
      { label: t("Model"), value: (s) => (s.info ? `${s.info.vendor} ${s.info.model}` : "–") },
      { label: t("Connection"), value: (s) => [onlineBadge(s), " ", s.registration !== "Accepted" ? stateBadge(s.registration) : null, acceptButton(s)] },
      { label: t("Connectors"), value: (s) => h("span", { class: "connector-badges" },
        (s.connectors || []).map((c) => {
          const el = stateBadge(c.status, "connector");
          el.title = `${connectorName(c)} ${label(c.status)}${c.error_code && c.error_code !== "NoError" ? ` · ${c.error_code}` : ""}`;
          el.dataset.connector = `${c.evse_id}/${c.connector_id}`;
          return [el, " "];
        })) },
      { label: t("Last message"), value: (s) => fmt.ago(s.presence && s.presence.last_message_at) },
    ], rows, { empty: t("No station matches."), rowId: (s) => s.id }));
  }

  function drawMap() {
    const placed = sites.filter((s) => s.latitude !== null && s.longitude !== null);
    if (!placed.length) {
      ui.clear(mapBox, h("p", { class: "muted" }, t("No site has coordinates yet.")));
      return;
    }
    const W = 420, H = 300, pad = 40;
    const lats = placed.map((s) => s.latitude), lons = placed.map((s) => s.longitude);
    const midLat = (Math.min(...lats) + Math.max(...lats)) / 2;
    const kx = Math.cos((midLat * Math.PI) / 180);  // equirectangular: shrink longitudes by cos(latitude)
    const xs = lons.map((l) => l * kx), ys = lats;
    const spanX = Math.max(...xs) - Math.min(...xs) || 0.01, spanY = Math.max(...ys) - Math.min(...ys) || 0.01;
    const scale = Math.min((W - 2 * pad) / spanX, (H - 2 * pad) / spanY);
    const cx = (Math.min(...xs) + Math.max(...xs)) / 2, cy = (Math.min(...ys) + Math.max(...ys)) / 2;
    const project = (lat, lon) => [W / 2 + (lon * kx - cx) * scale, H / 2 - (lat - cy) * scale];
    const map = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("Map of the sites"), class: "map" });
    map.append(svg("rect", { x: 0, y: 0, width: W, height: H, class: "map-bg" }));
    for (const site of placed) {
      const own = [...stations.values()].filter((s) => s.site_id === site.id);
      const online = own.filter((s) => s.presence && s.presence.connected).length;
      const [x, y] = project(site.latitude, site.longitude);
      const r = 10 + Math.min(14, Math.sqrt(own.length) * 4);
      const state = !own.length ? "empty" : online === own.length ? "all" : online ? "some" : "none";
      const group = svg("g", { class: `site-point site-${state}${filters.site === site.id ? " selected" : ""}`,
        tabindex: 0, role: "button", "data-site": site.id,
        onclick: () => { filters.site = filters.site === site.id ? "" : site.id; siteSelect.value = filters.site; draw(); },
        onkeydown: (event) => { if (event.key === "Enter") event.currentTarget.dispatchEvent(new Event("click")); } },
      svg("title", {}, `${site.name} · ${t("{online} of {count} stations online", { online, count: own.length })}`),
      svg("circle", { cx: x, cy: y, r }),
      svg("text", { x, y: y + 5, class: "count", "text-anchor": "middle" }, String(own.length)),
      svg("text", { x, y: y - r - 4, class: "name", "text-anchor": "middle" }, site.name || site.id));
      map.append(group);
    }
    const unplaced = sites.length - placed.length;
    ui.clear(mapBox, map, unplaced ? h("p", { class: "muted" }, t("{count} sites without coordinates", { count: unplaced })) : null);
  }

  function draw() { drawTable(); drawMap(); }
  draw();

  const typed = debounce(() => { filters.q = search.value; drawTable(); }, 150);
  search.addEventListener("input", typed);
  siteSelect.addEventListener("change", () => { filters.site = siteSelect.value; draw(); });
  onlineSelect.addEventListener("change", () => { filters.online = onlineSelect.value; drawTable(); });
  statusSelect.addEventListener("change", () => { filters.status = statusSelect.value; drawTable(); });

  const redraw = debounce(draw, 100);
  const reload = debounce(async () => {
    for (const s of await ctx.get("/stations")) stations.set(s.id, s);
    draw();
  }, 300);
  const off = subscribe(ctx, ["connector.status", "station.connected", "station.disconnected", "station.booted"], (e, type) => {
    const s = stations.get(e.station_id);
    if (!s || type === "station.booted") { reload(); return; }
    if (type === "connector.status") {
      const c = (s.connectors || []).find((x) => x.evse_id === e.evse_id && x.connector_id === e.connector_id);
      if (!c) { reload(); return; }
      Object.assign(c, { status: e.status, error_code: e.error_code, updated_at: e.at });
    } else {
      s.presence = { ...(s.presence || {}), connected: type === "station.connected", last_message_at: e.at };
    }
    redraw();
  });
  return () => { off(); typed.cancel(); redraw.cancel(); reload.cancel(); };
}
