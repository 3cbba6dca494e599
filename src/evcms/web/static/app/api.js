// The driver API (/api/v1/drivers/..., /api/v1/me/...) with the driver's bearer token.

const TOKEN_KEY = "evcms.app.token";
const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

let onSignedOut = () => {};

export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

export function keepToken(secret) {
  if (secret) localStorage.setItem(TOKEN_KEY, secret);
  else localStorage.removeItem(TOKEN_KEY);
}

async function send(method, path, body, headers = {}) {
  const sent = { Accept: "application/json", ...headers };
  const secret = token();
  if (secret) sent.Authorization = `Bearer ${secret}`;
  const init = { method, headers: sent };
  if (body !== undefined) {
    sent["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, "");
  }
  if (!response.ok) {
    let detail = "";
    try {
      detail = (await response.json()).detail || "";
    } catch {
      detail = response.statusText;
    }
    if (response.status === 401 && secret && !path.startsWith("/drivers/")) {
      keepToken(null);
      onSignedOut();
    }
    throw new ApiError(response.status, typeof detail === "string" ? detail : "");
  }
  return response;
}

export async function call(method, path, body, headers) {
  const response = await send(method, path, body, headers);
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path) => call("GET", path);
export const post = (path, body, headers) => call("POST", path, body, headers);
export const put = (path, body) => call("PUT", path, body);
export const patch = (path, body) => call("PATCH", path, body);
export const del = (path) => call("DELETE", path);

/** A file (a PDF) as a Blob. */
export async function download(path) {
  const response = await send("GET", path, undefined, { Accept: "application/pdf" });
  return response.blob();
}
