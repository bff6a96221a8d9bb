// HTTP calls to the FastLabel server. Every failure becomes an ApiError carrying the
// server's {"error": "..."} message, so callers can show it in a toast.

// Off loopback the server wants a token; the page gets it once, in its own URL.
export const token = new URLSearchParams(location.search).get("token");

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "ApiError";
    this.status = status; // 0 when the server could not be reached
  }
}

/** A same-origin URL with the token appended, for links and sockets that cannot send headers. */
export function withToken(path) {
  if (!token) return path;
  const url = new URL(path, location.href);
  url.searchParams.set("token", token);
  return url.pathname + url.search;
}

async function request(method, path, { query, body } = {}) {
  const url = new URL(path, location.href);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
  }
  const headers = { Accept: "application/json" };
  if (token) headers["X-FastLabel-Token"] = token;
  if (body !== undefined) headers["Content-Type"] = "application/json";

  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
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
  state: () => request("GET", "/api/state"),
  setQuery: (query) => request("POST", "/api/set_query", { body: { query } }),
  nextBatch: (strategy, batchSize) =>
    request("GET", "/api/next_batch", { query: { strategy, batch_size: batchSize } }),
  submitLabels: (labels, { batchId, pageMs, clicks }) =>
    request("POST", "/api/submit_labels", {
      query: { batch_id: batchId, page_ms: pageMs, clicks },
      body: labels,
    }),
  undo: () => request("POST", "/api/undo"),
  models: () => request("GET", "/api/models"),
};
