// Translations (gettext catalogs served as JSON) and locale-aware formatting with Intl.
// t("Stations") -> "Станции" in Bulgarian; t("{count} open", {count: 3}) fills placeholders.

const LOCALES = { en: "en-GB", bg: "bg-BG" };
let language = "en";
let messages = {};

export function currentLanguage() { return language; }
export function locale() { return LOCALES[language] || "en-GB"; }

export function pickLanguage() {
  const saved = localStorage.getItem("evcms.language");
  if (saved && LOCALES[saved]) return saved;
  const browser = (navigator.language || "en").slice(0, 2).toLowerCase();
  return LOCALES[browser] ? browser : "en";
}

export async function loadLanguage(lang) {
  const response = await fetch(`/console/i18n/${lang}.json`, { credentials: "same-origin" });
  messages = response.ok ? await response.json() : {};
  language = response.ok ? lang : "en";
  localStorage.setItem("evcms.language", language);
  document.documentElement.lang = language;
}

export function t(msgid, params) {
  let text = messages[msgid] || msgid;
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  }
  return text;
}

const numberFormats = new Map();
function numberFormat(options) {
  const key = locale() + JSON.stringify(options);
  if (!numberFormats.has(key)) numberFormats.set(key, new Intl.NumberFormat(locale(), options));
  return numberFormats.get(key);
}

// Numbers arrive from the API as exact decimal strings; they are formatted, not computed with.
export const fmt = {
  number(value, digits = 0) {
    if (value === null || value === undefined || value === "") return "–";
    return numberFormat({ minimumFractionDigits: digits, maximumFractionDigits: digits }).format(Number(value));
  },
  money(amount, currency = "EUR") {
    if (amount === null || amount === undefined || amount === "") return "–";
    return numberFormat({ style: "currency", currency }).format(Number(amount));
  },
  percent(value, digits = 1) {  // value is a percentage: 97.5 -> "97.5 %"
    if (value === null || value === undefined || value === "") return "–";
    return numberFormat({ style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits }).format(Number(value) / 100);
  },
  kwh(wh, digits = 2) { return wh === null || wh === undefined ? "–" : `${fmt.number(Number(wh) / 1000, digits)} kWh`; },
  kw(w, digits = 1) { return w === null || w === undefined ? "–" : `${fmt.number(Number(w) / 1000, digits)} kW`; },
  datetime(value) {
    if (!value) return "–";
    return new Intl.DateTimeFormat(locale(), { dateStyle: "short", timeStyle: "medium" }).format(new Date(value));
  },
  date(value) {
    if (!value) return "–";
    return new Intl.DateTimeFormat(locale(), { dateStyle: "medium" }).format(new Date(value));
  },
  time(value) {
    if (!value) return "–";
    return new Intl.DateTimeFormat(locale(), { timeStyle: "medium" }).format(new Date(value));
  },
  duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.max(0, Math.round(Number(seconds)));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), rest = s % 60;
    return h ? `${h} h ${String(m).padStart(2, "0")} min` : m ? `${m} min ${String(rest).padStart(2, "0")} s` : `${rest} s`;
  },
  ago(value) {
    if (!value) return "–";
    const seconds = Math.round((new Date(value).getTime() - Date.now()) / 1000);
    const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" });
    const abs = Math.abs(seconds);
    if (abs < 60) return rtf.format(seconds, "second");
    if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
    if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
    return rtf.format(Math.round(seconds / 86400), "day");
  },
};
