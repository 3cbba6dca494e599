// Texts and formats in the driver's language. Every text the app shows goes through t()
// (the English text as the key, a literal in double quotes: tests extract them); the
// translations come from GET /app/i18n/<language>.json (the gettext catalogue app.po).

export const LANGUAGES = { en: "English", bg: "Български" };
const LOCALES = { en: "en-GB", bg: "bg-BG" };
const STORAGE_KEY = "evcms.app.language";

let language = "en";
let messages = {};

export function currentLanguage() {
  return language;
}

export function locale() {
  return LOCALES[language] || LOCALES.en;
}

/** The language to start in: the one chosen here before, else the browser's. */
export function initialLanguage() {
  const chosen = localStorage.getItem(STORAGE_KEY);
  if (chosen && chosen in LANGUAGES) return chosen;
  for (const wanted of navigator.languages || [navigator.language || "en"]) {
    const base = String(wanted).toLowerCase().split("-")[0];
    if (base in LANGUAGES) return base;
  }
  return "en";
}

export async function setLanguage(next, { remember = false } = {}) {
  if (!(next in LANGUAGES)) next = "en";
  if (next === "en") {
    messages = {};
  } else {
    const response = await fetch(`/app/i18n/${next}.json`);
    if (!response.ok) throw new Error(`no texts for ${next}`);
    messages = (await response.json()).messages || {};
  }
  language = next;
  if (remember) localStorage.setItem(STORAGE_KEY, next);
  document.documentElement.lang = next;
}

/** The text in the current language; {name} placeholders are filled from vars. */
export function t(text, vars) {
  const translated = messages[text] || text;
  if (!vars) return translated;
  return translated.replace(/\{(\w+)\}/g, (whole, name) =>
    name in vars ? String(vars[name]) : whole,
  );
}

/** Money from the API's exact decimal text ("12.30"); Intl formats the string exactly. */
export function money(amount, currency) {
  if (amount === null || amount === undefined || amount === "") return "—";
  try {
    return new Intl.NumberFormat(locale(), { style: "currency", currency }).format(amount);
  } catch {
    return `${amount} ${currency}`;
  }
}

export function number(value, digits = 2) {
  if (value === null || value === undefined || value === "") return "—";
  return new Intl.NumberFormat(locale(), {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(value);
}

export function dateTime(value) {
  if (!value) return "—";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(
    new Date(value),
  );
}

export function date(value) {
  if (!value) return "—";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium" }).format(new Date(value));
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const total = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  const two = (n) => String(n).padStart(2, "0");
  return hours > 0 ? `${hours}:${two(minutes)}:${two(secs)}` : `${minutes}:${two(secs)}`;
}
