// HTTP calls to the FastLabel server: every call from the page goes through `request` here, which
// sends the token and the tab's concept (no other module builds its own fetch). Every failure
// becomes an ApiError carrying the server's {"error": "..."} message, so callers can show it in a toast. A submit or an undo
// carries a request id of its own and is sent again with it when the answer is lost on the
// way: the server applies each id once and answers a repeat as it answered the first.

import { toast } from "./toast.js";

// Off loopback the server wants a token; the page gets it once, in its own URL.
export const token = new URLSearchParams(location.search).get("token");

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "ApiError";
    this.status = status; // 0 when the server could not be reached
  }
}

// The concept every call and download link acts on (concepts.js sets it); the server's current one until then.
let concept = null;
export function useConcept(name) {
  concept = name || null;
  relinkDownloads();
}

/** A same-origin URL with the token and the concept appended, for links and sockets that cannot send headers. */
export function withToken(path) {
  if (!token && !concept) return path;
  const url = new URL(path, location.href);
  if (token) url.searchParams.set("token", token);
  if (concept && !url.searchParams.has("concept")) url.searchParams.set("concept", concept);
  return url.pathname + url.search;
}

/** Point every download link (a[data-api]) at its route with the token and the tab's concept. */
export function relinkDownloads() {
  for (const link of document.querySelectorAll("a[data-api]")) link.href = withToken(link.dataset.api);
}

const RETRIES = 2; // sends of the same request id after a lost answer
const RETRY_DELAY_MS = 1000;

/** A fresh request id: 32 hex digits (crypto.getRandomValues works off secure contexts too). */
export function newRequestId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A change the server must apply once: retried with the same request id when the answer is lost. */
async function once(method, path, { query, body } = {}) {
  const q = { ...(query || {}), request_id: newRequestId() };
  for (let attempt = 0; ; attempt++) {
    try {
      const data = await request(method, path, { query: q, body });
      if (data && data.warning) toast(data.warning, "info");
      return data;
    } catch (err) {
      if (err.status !== 0 || attempt >= RETRIES) throw err;
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * (attempt + 1)));
    }
  }
}

/** One call: `body` is sent as JSON, or as it is (a Blob) when its `type` is given. */
async function request(method, path, { query, body, type } = {}) {
  const url = new URL(path, location.href);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
  }
  if (concept && !url.searchParams.has("concept")) url.searchParams.set("concept", concept);
  const headers = { Accept: "application/json" };
  if (token) headers["X-FastLabel-Token"] = token;
  if (body !== undefined) headers["Content-Type"] = type || "application/json";

  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined || type ? body : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError("The server cannot be reached. Is `fastlabel serve` still running?", 0);
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    // a proxy error page or an empty body: fall through to the status text
  }
  if (!res.ok) {
    const message = (data && data.error) || `${res.status} ${res.statusText || "request failed"}`;
    throw new ApiError(message, res.status);
  }
  return data;
}

export const api = {
  signIn: (token) => request("POST", "/api/signin", { body: { token } }),
  state: () => request("GET", "/api/state"),
  setQuery: (query) => request("POST", "/api/set_query", { body: { query } }),
  setGoal: (goal) => request("POST", "/api/set_goal", { body: { goal } }),
  nextBatch: (strategy, batchSize, ids = []) =>
    request("GET", "/api/next_batch", {
      query: { strategy, batch_size: batchSize, ids: ids.length ? ids.join(",") : undefined },
    }),
  similarImage: (blob, type, batchSize) =>
    request("POST", "/api/similar_image", { query: { batch_size: batchSize }, body: blob, type }),
  submitLabels: (labels, { batchId, pageMs, clicks }) =>
    once("POST", "/api/submit_labels", {
      query: { batch_id: batchId, page_ms: pageMs, clicks },
      body: labels,
    }),
  undo: () => once("POST", "/api/undo"),
  models: () => request("GET", "/api/models"),
  concepts: () => request("GET", "/api/concepts"),
  createConcept: (name) => request("POST", "/api/concepts", { body: { name } }),
  switchConcept: (name) => request("POST", "/api/concepts/current", { body: { name } }),
  review: (size) => request("GET", "/api/review", { query: { size } }),
  labeled: (filter, offset, limit) => request("GET", "/api/labeled", { query: { filter, offset, limit } }),
  /** A window's sound (16-bit WAV), with `context` windows either side: a URL for an <audio> element. */
  audioUrl: (id, context = 0) => withToken(`/api/audio/${id}${context ? `?context=${context}` : ""}`),
  correct: (labels, { origin, batchId }) =>
    once("POST", "/api/correct", { query: { origin, batch_id: batchId }, body: labels }),
  me: () => request("GET", "/api/me"),
  team: () => request("GET", "/api/team"),
  agreement: () => request("GET", "/api/agreement"),
  resolve: (labels) => once("POST", "/api/resolve", { body: labels }),
  setOverlap: (perPage) => request("POST", "/api/team/overlap", { body: { per_page: perPage } }),
  signOut: () => request("POST", "/api/signout"),
};
