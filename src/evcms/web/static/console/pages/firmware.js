// Firmware: upload files, list them, roll one out to stations in waves and follow the rollout
// live (its status endpoint is polled, and firmware.status events refresh it at once).
import { action, field, poll, progressBar, section } from "../lib/admin.js";

const FINISHED = ["installed", "failed", "timed_out", "skipped"];

function size(ctx, bytes) {
  if (bytes >= 1 << 20) return `${ctx.fmt.number(bytes / (1 << 20), 1)} MB`;
  if (bytes >= 1 << 10) return `${ctx.fmt.number(bytes / (1 << 10), 1)} kB`;
  return `${ctx.fmt.number(bytes)} B`;
}

function stateLabel(ctx, state) {
  const labels = {
    pending: ctx.t("pending"), updating: ctx.t("updating"), installed: ctx.t("installed"),
    failed: ctx.t("failed"), timed_out: ctx.t("timed out"), skipped: ctx.t("skipped"),
    running: ctx.t("running"), completed: ctx.t("completed"), halted: ctx.t("halted"),
    cancelled: ctx.t("cancelled"),
  };
  return labels[state] || state;
}

function stateClass(state) {
  return { installed: "ok", completed: "ok", updating: "running", running: "running", pending: "Pending",
    failed: "failed", timed_out: "failed", halted: "failed", skipped: "Unavailable", cancelled: "Unavailable" }[state] || state;
}

export async function render(root, ctx) {
  const { h, ui, t } = ctx;
  const canOperate = ctx.may("operate_stations");
  const stops = [];
  root.append(h("h1", {}, t("Firmware")));

  const filesBox = h("div", { id: "firmware-files" });
  const rolloutForm = h("div", { id: "rollout-form" });
  const rolloutsBox = h("div", { id: "rollouts" });
  const detailBox = h("div", { id: "rollout-detail" });
  let files = [];

  async function loadFiles() {
    files = (await ctx.get("/firmware")).firmware;
    ui.clear(filesBox, ui.table([
      { label: t("Version"), value: (f) => h("strong", {}, f.version) },
      { label: t("File"), value: (f) => h("span", { class: "mono" }, f.file_name) },
      { label: t("Size"), num: true, value: (f) => size(ctx, f.size) },
      { label: t("Models"), value: (f) => (f.models.length ? f.models.join(", ") : t("every model")) },
      { label: t("Uploaded"), value: (f) => ctx.fmt.datetime(f.created_at) },
      { label: "", value: (f) => canOperate ? h("div", { class: "adm-actions" },
        h("button", { type: "button", class: "secondary", onclick: action(ui, () => showRolloutForm(f)) }, t("Roll out")),
        h("button", { type: "button", class: "secondary", onclick: action(ui, async () => {
          if (!(await ui.confirmDialog(t("Delete firmware {version}?", { version: f.version }), { danger: true }))) return;
          await ctx.del(`/firmware/${f.id}`);
          await loadFiles();
        }) }, t("Delete"))) : "" },
    ], files, { rowId: (f) => f.id, empty: t("No firmware uploaded yet") }));
  }

  async function showRolloutForm(file) {
    const [stations, sites] = await Promise.all([ctx.get("/stations"), ctx.get("/sites")]);
    const models = [...new Set(stations.map((s) => s.info && s.info.model).filter(Boolean))].sort();
    const kind = h("select", { id: "rollout-target-kind" },
      h("option", { value: "stations" }, t("Chosen stations")),
      h("option", { value: "site" }, t("Every station of a site")),
      h("option", { value: "model" }, t("Every station of a model")));
    const stationList = h("select", { id: "rollout-stations", multiple: true, size: Math.min(8, Math.max(3, stations.length)) },
      stations.map((s) => h("option", { value: s.id }, s.name ? `${s.id} · ${s.name}` : s.id)));
    const siteSelect = h("select", { id: "rollout-site" }, sites.map((s) => h("option", { value: s.id }, s.name || s.id)));
    const modelSelect = h("select", { id: "rollout-model" }, models.map((m) => h("option", { value: m }, m)));
    const targets = {
      stations: field(t("Stations"), stationList),
      site: field(t("Site"), siteSelect),
      model: field(t("Model"), modelSelect),
    };
    const showTarget = () => { for (const [name, el] of Object.entries(targets)) el.hidden = name !== kind.value; };
    kind.addEventListener("change", showTarget);
    const waveSize = h("input", { id: "rollout-wave-size", type: "number", min: 1, value: 10 });
    const maxFailure = h("input", { id: "rollout-max-failure", type: "number", min: 0, max: 100, step: 1, value: 20 });
    const force = h("input", { id: "rollout-force", type: "checkbox" });
    const error = h("div", { class: "error", role: "alert" });
    const submit = h("button", { type: "submit", id: "rollout-start" }, t("Start rollout"));
    const formEl = h("form", { class: "toolbar" },
      field(t("Target"), kind), targets.stations, targets.site, targets.model,
      field(t("Wave size"), waveSize), field(t("Max. failure rate (%)"), maxFailure),
      h("label", { class: "adm-check" }, force, h("span", {}, t("Include stations of other models"))),
      submit, h("button", { type: "button", class: "secondary", onclick: () => ui.clear(rolloutForm) }, t("Cancel")), error);
    formEl.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const body = {
        wave_size: Number(waveSize.value),
        max_failure_rate: String(Number(maxFailure.value) / 100),
        force: force.checked,
      };
      if (kind.value === "stations") {
        body.station_ids = [...stationList.selectedOptions].map((o) => o.value);
        if (!body.station_ids.length) { error.textContent = t("Choose at least one station."); return; }
      } else if (kind.value === "site") body.site_id = siteSelect.value;
      else body.model = modelSelect.value;
      submit.disabled = true;
      try {
        const rollout = await ctx.post(`/firmware/${file.id}/rollouts`, body);
        ui.toast(t("Rollout {id} started", { id: rollout.id }));
        ui.clear(rolloutForm);
        ctx.navigate(`#/firmware?rollout=${rollout.id}`);
      } catch (exc) {
        error.textContent = exc.message;
      } finally {
        submit.disabled = false;
      }
    });
    ui.clear(rolloutForm, section(t("Roll out firmware {version}", { version: file.version }), h("div", { class: "card" }, formEl)));
    showTarget();
    rolloutForm.scrollIntoView({ block: "nearest" });
  }

  function versionOf(id) { const f = files.find((x) => x.id === id); return f ? f.version : `#${id}`; }

  async function loadRollouts() {
    const { rollouts } = await ctx.get("/firmware/rollouts");
    ui.clear(rolloutsBox, ui.table([
      { label: t("Rollout"), value: (r) => h("a", { href: `#/firmware?rollout=${r.id}` }, `#${r.id}`) },
      { label: t("Firmware"), value: (r) => versionOf(r.firmware_id) },
      { label: t("Target"), value: (r) => r.target },
      { label: t("Status"), value: (r) => ui.badge(stateLabel(ctx, r.status), stateClass(r.status)) },
      { label: t("Wave"), num: true, value: (r) => r.current_wave },
      { label: t("Started"), value: (r) => ctx.fmt.datetime(r.created_at) },
    ], rollouts, { rowId: (r) => r.id, empty: t("No rollouts yet") }));
  }

  async function showRollout(id) {
    let rollout;
    const draw = () => {
      const r = rollout;
      const finished = r.stations.filter((s) => FINISHED.includes(s.state)).length;
      const counts = Object.entries(r.counts).filter(([, n]) => n > 0)
        .map(([state, n]) => ui.badge(`${stateLabel(ctx, state)}: ${n}`, stateClass(state)));
      ui.clear(detailBox, section(t("Rollout #{id}: firmware {version}", { id: r.id, version: versionOf(r.firmware_id) }),
        h("div", { class: "card adm-rollout" },
          h("div", { class: "toolbar" },
            h("span", { id: "rollout-status" }, ui.badge(stateLabel(ctx, r.status), stateClass(r.status))),
            h("span", {}, t("Wave {wave} of {waves}", { wave: r.current_wave, waves: r.waves })),
            h("span", { class: "muted" }, r.target),
            r.status === "running" && canOperate ? h("button", { type: "button", class: "danger", id: "rollout-cancel",
              onclick: action(ui, async () => {
                if (!(await ui.confirmDialog(t("Cancel rollout #{id}? Stations not started are skipped.", { id: r.id }), { danger: true }))) return;
                rollout = await ctx.post(`/firmware/rollouts/${r.id}/cancel`);
                draw();
                await loadRollouts();
              }) }, t("Cancel rollout")) : null),
          h("div", { id: "rollout-progress" }, progressBar(finished, r.total, t("{done} of {total} stations done", { done: finished, total: r.total }))),
          h("div", { class: "adm-counts", id: "rollout-counts" }, counts),
          r.detail ? h("p", { class: "muted" }, r.detail) : null,
          ui.table([
            { label: t("Station"), value: (s) => h("a", { href: `#/stations/${encodeURIComponent(s.station_id)}` }, s.station_id) },
            { label: t("Wave"), num: true, value: (s) => s.wave },
            { label: t("State"), value: (s) => ui.badge(stateLabel(ctx, s.state), stateClass(s.state)) },
            { label: t("Station reports"), value: (s) => s.station_status || "–" },
            { label: t("Detail"), value: (s) => s.detail || "" },
          ], r.stations, { rowId: (s) => s.station_id }))));
    };
    const refresh = async () => {
      rollout = await ctx.get(`/firmware/rollouts/${id}`);
      draw();
      return rollout.status === "running";
    };
    const running = await refresh();
    if (running) {
      const stop = poll(async () => {
        const still = await refresh();
        if (!still) await loadRollouts();
        return still;
      }, 2);
      stops.push(stop);
      let pending = false;
      stops.push(ctx.events.on("firmware.status", async () => {
        if (pending || !rollout || rollout.status !== "running") return;
        pending = true;
        try { await refresh(); } finally { pending = false; }
      }));
    }
  }

  if (canOperate) {
    const fileInput = h("input", { type: "file", id: "firmware-file", required: true });
    const version = h("input", { type: "text", id: "firmware-version", required: true, maxlength: 100 });
    const models = h("input", { type: "text", id: "firmware-models", placeholder: t("all models") });
    const notes = h("input", { type: "text", id: "firmware-notes", maxlength: 2000 });
    const bar = h("div", { class: "adm-upload-progress" });
    const error = h("div", { class: "error", role: "alert" });
    const submit = h("button", { type: "submit", id: "firmware-upload" }, t("Upload"));
    const formEl = h("form", { class: "toolbar", id: "firmware-form" },
      field(t("File"), fileInput), field(t("Version"), version),
      field(t("Models (comma-separated)"), models), field(t("Notes"), notes), submit, bar, error);
    formEl.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const file = fileInput.files[0];
      if (!file) { error.textContent = t("Choose a file."); return; }
      const data = new FormData();
      data.append("file", file, file.name);
      data.append("version", version.value.trim());
      if (models.value.trim()) data.append("models", models.value.trim());
      if (notes.value.trim()) data.append("notes", notes.value.trim());
      submit.disabled = true;
      ui.clear(bar, h("span", { class: "muted" }, t("Uploading…")));
      try {
        const added = await ctx.api("POST", "/firmware", { body: data });
        ui.toast(t("Firmware {version} uploaded", { version: added.version }));
        formEl.reset();
        await loadFiles();
      } catch (exc) {
        error.textContent = exc.message;
      } finally {
        submit.disabled = false;
        ui.clear(bar);
      }
    });
    root.append(section(t("Upload firmware"), h("div", { class: "card" }, formEl)));
  }
  root.append(section(t("Firmware files"), filesBox), rolloutForm, detailBox, section(t("Rollouts"), rolloutsBox));
  await loadFiles();
  await loadRollouts();
  if (ctx.params.rollout) await showRollout(Number(ctx.params.rollout));
  return () => stops.forEach((stop) => stop());
}
