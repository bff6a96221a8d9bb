// The side panel: counts, retrain time, the learning trend, and whatever effort and
// estimate figures the server reports (rendered generically, so new fields just appear).

const SVG_NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

export function formatNumber(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "\u2013";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return v.toLocaleString();
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return v.toLocaleString(undefined, { maximumFractionDigits: digits });
}

function formatMs(ms) {
  if (ms === null || ms === undefined) return "\u2013";
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

/** "labels_per_min" -> "labels / min", "sec_per_label" -> "sec / label". */
export function prettyKey(key) {
  return String(key).replace(/_per_/g, " / ").replace(/_/g, " ");
}

/** {value, low, high}: an estimate with its interval, shown as one figure. */
function isInterval(v) {
  return Boolean(v) && typeof v === "object" && "value" in v && ("low" in v || "high" in v);
}

function isScalar(v) {
  return v === null || typeof v !== "object" || isInterval(v);
}

/** An object of scalars only: one column of a figures table. */
function isFlat(v) {
  return Boolean(v) && typeof v === "object" && !Array.isArray(v) && !isInterval(v) &&
    Object.values(v).every(isScalar);
}

export function formatFigure(v) {
  if (!isInterval(v)) return formatNumber(v);
  if (v.value === null || v.value === undefined) return "\u2013";
  const range = typeof v.low === "number" && typeof v.high === "number"
    ? ` (${formatNumber(v.low)}\u2013${formatNumber(v.high)})` : "";
  return `${formatNumber(v.value)}${range}`;
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function kvList(entries) {
  const list = el("dl", "kv");
  for (const [k, v] of entries) list.append(el("dt", "", prettyKey(k)), el("dd", "", formatFigure(v)));
  return list;
}

/** Sibling objects with the same keys (overall / recent, one per strategy) side by side. */
function figuresTable(columns) {
  const table = el("table", "figs");
  const head = el("tr");
  head.append(el("th"));
  for (const [name] of columns) head.append(el("th", "", prettyKey(name)));
  table.append(el("thead"), el("tbody"));
  table.tHead.append(head);
  for (const key of Object.keys(columns[0][1])) {
    const tr = el("tr");
    tr.append(el("th", "", prettyKey(key)));
    for (const [, obj] of columns) tr.append(el("td", "", formatFigure(obj[key])));
    table.tBodies[0].append(tr);
  }
  const wrap = el("div", "figs-wrap");
  wrap.append(table);
  return wrap;
}

function titled(title, body) {
  const group = el("div", "kv-group");
  group.append(el("div", "kv-title", prettyKey(title)), body);
  return group;
}

/**
 * Figures of any shape the server sends: scalars as a key/value list, sibling objects
 * with the same keys as one table, deeper objects under a title. Unknown fields just appear.
 */
function renderFigures(target, obj, depth = 0) {
  target.replaceChildren();
  if (!obj || typeof obj !== "object") return false;
  const scalars = [];
  const flatGroups = new Map(); // key signature -> [[name, obj]]
  const deeper = [];
  for (const [k, v] of Object.entries(obj)) {
    if (Array.isArray(v)) continue;
    if (isScalar(v)) scalars.push([k, v]);
    else if (isFlat(v)) {
      const sig = Object.keys(v).join("|");
      if (!flatGroups.has(sig)) flatGroups.set(sig, []);
      flatGroups.get(sig).push([k, v]);
    } else deeper.push([k, v]);
  }
  if (scalars.length) target.append(kvList(scalars));
  for (const group of flatGroups.values()) {
    if (!Object.keys(group[0][1]).length) continue;
    target.append(group.length > 1 ? figuresTable(group) : titled(group[0][0], kvList(Object.entries(group[0][1]))));
  }
  for (const [k, v] of deeper) {
    const body = el("div");
    if (depth < 2 && renderFigures(body, v, depth + 1)) target.append(titled(k, body));
  }
  return target.childElementCount > 0;
}

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** Labeled (grey) and positives found (green) after each submission, on one scale. */
export function sparkline(target, history) {
  const W = 200;
  const H = 48;
  const PAD = 3;
  target.replaceChildren();
  const points = (history || []).filter((h) => h && typeof h.labeled === "number");
  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    width: "100%",
    height: H,
    role: "img",
    class: "sparkline",
  });
  if (points.length === 0) {
    target.classList.add("is-empty");
    target.textContent = "No pages submitted yet.";
    return;
  }
  target.classList.remove("is-empty");
  const series = [{ labeled: 0, positive: 0 }, ...points];
  const maxY = Math.max(1, ...series.map((p) => p.labeled));
  const x = (i) => PAD + (i / (series.length - 1)) * (W - 2 * PAD);
  const y = (v) => H - PAD - (v / maxY) * (H - 2 * PAD);
  const path = (key) => series.map((p, i) => `${x(i).toFixed(1)},${y(p[key] || 0).toFixed(1)}`).join(" ");

  root.append(
    svg("polyline", { points: path("labeled"), class: "spark-labeled" }),
    svg("polyline", { points: path("positive"), class: "spark-positive" }),
  );
  const last = series[series.length - 1];
  root.append(svg("circle", { cx: x(series.length - 1), cy: y(last.positive), r: 2.5, class: "spark-dot" }));
  const title = svg("title", {});
  title.textContent = `${last.positive} positives found in ${last.labeled} labels over ${points.length} pages`;
  root.append(title);
  target.append(root);
}

export function renderStats(state) {
  const c = state.counts || {};
  $("stat-labeled").textContent = formatNumber(c.labeled ?? 0);
  $("stat-positive").textContent = formatNumber(c.positive ?? 0);
  $("stat-negative").textContent = formatNumber(c.negative ?? 0);
  $("stat-train").textContent = formatMs(state.last_train_ms);

  const history = state.history || [];
  const lastFlip = history.length ? history[history.length - 1].flip_rate : null;
  $("stat-flip").textContent =
    typeof lastFlip === "number" ? `${(lastFlip * 100).toFixed(1)}%` : "\u2013";
  sparkline($("trend"), history);
  const n = state.data && state.data.n_items;
  $("trend-caption").textContent = history.length
    ? `${history[history.length - 1].positive} positives / ${history[history.length - 1].labeled} labeled` +
      (n ? ` of ${formatNumber(n)}` : "")
    : "";

  $("effort-section").hidden = !renderFigures($("effort"), state.effort);
  $("estimates-section").hidden = !renderFigures($("estimates"), state.estimates);

  const stop = state.stop;
  const stopEl = $("stop");
  stopEl.hidden = !(stop && stop.message);
  if (stop && stop.message) {
    stopEl.textContent = stop.message;
    stopEl.classList.toggle("is-ready", Boolean(stop.ready));
  }
}

/** The quick part of a retrain result, before the full state is fetched again. */
export function renderCounts(counts, lastTrainMs) {
  if (counts) {
    $("stat-labeled").textContent = formatNumber(counts.labeled ?? 0);
    $("stat-positive").textContent = formatNumber(counts.positive ?? 0);
    $("stat-negative").textContent = formatNumber(counts.negative ?? 0);
  }
  if (typeof lastTrainMs === "number") $("stat-train").textContent = formatMs(lastTrainMs);
}
