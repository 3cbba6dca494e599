// Time-series charts with uPlot (from the npm registry, see scripts/vendor-frontend).
// const chart = timeChart(el, [{label: "kW", color: "#0b5cad"}]); chart.push(time, [value]);
import { t, locale } from "./i18n.js";
import { h } from "./ui.js";

export function timeChart(el, series, { height = 220, maxPoints = 2000, title } = {}) {
  const data = [[], ...series.map(() => [])];
  if (typeof window.uPlot !== "function") {
    el.append(h("p", { class: "muted" }, t("Charts need the console's libraries: run make setup.")));
    return { push() {}, set() {}, destroy() {}, data };
  }
  const width = Math.max(320, el.clientWidth || 640);
  const plot = new window.uPlot({
    title, width, height,
    scales: { x: { time: true } },
    series: [{ value: (u, v) => (v == null ? "–" : new Date(v * 1000).toLocaleTimeString(locale())) },
      ...series.map((s) => ({ label: s.label, stroke: s.color || "#0b5cad", width: 2,
        fill: s.fill, scale: s.scale, value: (u, v) => (v == null ? "–" : v.toLocaleString(locale())) }))],
    axes: [{}, ...series.filter((s, i) => i === 0 || s.scale).map((s, i) => ({ scale: s.scale, side: i ? 1 : 3, label: s.axis || s.label }))],
  }, data, el);
  const resize = () => plot.setSize({ width: Math.max(320, el.clientWidth || width), height });
  window.addEventListener("resize", resize);
  return {
    data,
    push(time, values) {  // time: Date or ISO text; values: one number per series
      data[0].push(new Date(time).getTime() / 1000);
      values.forEach((v, i) => data[i + 1].push(v === null || v === undefined ? null : Number(v)));
      if (data[0].length > maxPoints) data.forEach((column) => column.shift());
      plot.setData(data);
    },
    set(times, columns) {
      data.length = 0;
      data.push(times.map((x) => new Date(x).getTime() / 1000), ...columns.map((c) => c.map((v) => (v == null ? null : Number(v)))));
      plot.setData(data);
    },
    destroy() { window.removeEventListener("resize", resize); plot.destroy(); },
  };
}

// Bars for categories (hours of the day, days): a simple canvas-free fallback with divs.
export function barChart(el, labels, values, { format = (v) => String(v), id } = {}) {
  const max = Math.max(1e-9, ...values.map((v) => Number(v) || 0));
  const bars = h("div", { class: "bars", id });
  labels.forEach((label, i) => {
    const value = Number(values[i]) || 0;
    const fill = h("span");
    fill.style.height = `${Math.round((100 * value) / max)}%`;  // the CSP refuses style="" attributes
    bars.append(h("div", { class: "bar", title: `${label}: ${format(values[i])}` }, fill, h("small", {}, label)));
  });
  el.append(bars);
  return bars;
}
