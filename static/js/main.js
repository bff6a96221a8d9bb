// Wires the page together: start-up (loading -> ready), the toolbar, the labeling loop
// (next page -> label -> confirm & train -> next page), undo, and pushed retrains.

import { api, relinkDownloads } from "./api.js";
import { bindAudio, formatSeconds } from "./audio.js";
import { bindCloser } from "./closer.js";
import { currentConcept, initConcepts, refreshConcepts } from "./concepts.js";
import { GalleryView } from "./gallery.js";
import { Grid, setThreshold } from "./grid.js";
import { bindKeys } from "./keyboard.js";
import { renderModels } from "./models.js";
import { ReviewView } from "./review.js";
import { addCardButtons, bindSimilar } from "./similar.js";
import { Socket } from "./socket.js";
import { renderCounts, renderStats, formatNumber } from "./stats.js";
import { bindGoal, fillGoals, renderHeadline } from "./goal.js";
import { renderFolderNote } from "./skipped.js";
import { initTeam, noteRetrain, refreshTeam } from "./team.js";
import { showError, toast } from "./toast.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const BATCH_SIZES = [24, 48, 96];
const MODES = { positive: "mode-positive", negative: "mode-negative", neutral: "mode-neutral" };

const app = {
  status: "starting", // starting | loading | ready | error
  state: null,
  strategies: [],
  batch: null, // {batch_id, batch_type, strategy, restored}
  busy: false,
  view: "label", // label | review | gallery (review.js, gallery.js)
};

const grid = new Grid($("grid"), { onChange: renderPageInfo });
const socket = new Socket({ onMessage: onPush, onStatus: renderConnection });
const pageSize = () => Number($("batch-size").value) || 48;
const views = {
  review: new ReviewView({ grid, show: (b) => showBatch(b), pageSize }),
  gallery: new GalleryView({ grid, show: (b) => showBatch(b), pageSize, reload: () => loadBatch() }),
};

// ---------------------------------------------------------------- start-up

async function pollState() {
  let state;
  try {
    state = await api.state();
  } catch (err) {
    showLoading({ error: err.message });
    return setTimeout(pollState, POLL_MS * 3);
  }
  if (state.status === "ready") return onReady(state);
  if (state.status === "error") {
    app.status = "error";
    showLoading({ error: state.error || "The server could not load the data." });
    return setTimeout(pollState, POLL_MS * 5); // a restarted server is picked up without a reload
  }
  app.status = "loading";
  showLoading({ progress: state.progress });
  setTimeout(pollState, POLL_MS); // fallback for when the socket is down or blocked
}

function showLoading({ progress, error } = {}) {
  $("loading").hidden = false;
  $("grid").hidden = true;
  setBusy(true);
  const bar = $("loading-bar");
  const text = $("loading-text");
  $("loading").classList.toggle("is-error", Boolean(error));
  if (error) {
    $("loading-title").textContent = "FastLabel could not start";
    text.textContent = error;
    bar.hidden = true;
    return;
  }
  $("loading-title").textContent = "Preparing the data\u2026";
  bar.hidden = false;
  if (progress && progress.total) {
    const pct = Math.min(100, (100 * progress.done) / progress.total);
    bar.setAttribute("aria-valuenow", pct.toFixed(0));
    $("loading-fill").style.width = `${pct}%`;
    bar.classList.remove("is-indeterminate");
    const stage = progress.stage === "embedding" ? "Embedding images" : progress.stage;
    text.textContent = `${stage}: ${formatNumber(progress.done)} / ${formatNumber(progress.total)} (${pct.toFixed(0)}%)`;
  } else {
    bar.classList.add("is-indeterminate");
    text.textContent = "Loading images and cached embeddings.";
  }
}

async function onReady(state) {
  if (app.status === "ready") return;
  app.status = "ready";
  $("loading").hidden = true;
  $("grid").hidden = false;
  setBusy(false);
  const concept = await initConcepts({ canLeave: pageIsPristine, onSwitch: onConceptSwitch, hasText, setBusy });
  if (concept !== state.concept) state = await api.state(); // this tab's concept, from its URL
  applyState(state);
  fillToolbar(state);
  initTeam();
  await loadBatch();
}

function hasText() {
  return Boolean(app.state && app.state.encoder && app.state.encoder.has_text);
}

/** Another concept: its panel, its query, its next page; no reload, nothing re-embedded. */
async function onConceptSwitch() {
  const state = await api.state();
  applyState(state);
  $("query").value = state.query || "";
  await loadBatch();
}

/** Label, Review labels or Labeled: which page the grid shows. */
function setView(name, { load = true } = {}) {
  if (name === app.view) return;
  if (load && !pageIsPristine()) return toast("Confirm (or undo) this page first.", "info");
  app.view = name;
  for (const b of document.querySelectorAll("[data-view]")) b.classList.toggle("is-active", b.dataset.view === name);
  $("gallery-bar").hidden = name !== "gallery";
  $("strategy").disabled = name !== "label";
  if (load) loadBatch();
}

/** A review or gallery action, with the page's busy state and error toasts. */
async function runView(action) {
  const seq = ++loadSeq;
  setBusy(true);
  try {
    await action(views[app.view]);
  } catch (err) {
    showError(err);
  } finally {
    if (seq === loadSeq) setBusy(false);
    refreshUnlessPushed();
  }
}

function fillToolbar(state) {
  app.strategies = state.strategies || [];
  const select = $("strategy");
  select.replaceChildren(
    ...app.strategies.map((s) => {
      const opt = new Option(s.title || s.name, s.name);
      opt.dataset.batchType = s.batch_type;
      return opt;
    }),
  );
  const names = app.strategies.map((s) => s.name);
  select.value = names.includes(state.default_strategy) ? state.default_strategy : names[0] || "";

  const size = $("batch-size");
  const sizes = [...new Set([...BATCH_SIZES, state.batch_size])]
    .filter((n) => Number.isInteger(n) && n > 0 && n <= (state.max_batch_size || Infinity))
    .sort((a, b) => a - b);
  size.replaceChildren(...sizes.map((n) => new Option(String(n), String(n))));
  size.value = String(state.batch_size || 48);
  select.disabled = false;
  size.disabled = false;

  const hasText = Boolean(state.encoder && state.encoder.has_text);
  const audio = (state.data || {}).media === "audio"; // the text side is BirdNET's classes
  const noText = audio
    ? "This encoder has no classes; start the server with --encoder birdnet for zero-shot queries by class name."
    : "This encoder has no text side; start the server with --encoder clip for zero-shot queries.";
  $("set-query").disabled = !hasText;
  $("query").disabled = !hasText;
  $("set-query").title = audio ? "Zero-shot class init: score every window with the encoder's own class (Enter)"
    : "Zero-shot text init: score every image against this description (Enter)";
  $("query-box").title = !hasText ? noText
    : audio ? "Score every window with BirdNET's own score for this class before labeling"
    : "Score every image against this text before labeling";
  $("query").placeholder = !hasText ? (audio ? "Needs BirdNET" : "Needs CLIP")
    : audio ? "A BirdNET class, e.g. Human vocal, Dog, Eurasian Blackbird" : "Describe the positives, e.g. smiling woman";
  if (state.query) $("query").value = state.query;
}

/** Everything that follows /api/state: the panel, undo, the data line. */
function applyState(state) {
  app.state = state;
  setThreshold(state.threshold);
  renderStats(state);
  fillGoals(state);
  renderHeadline(state);
  renderFolderNote(state);
  $("undo").disabled = app.busy || !state.can_undo;
  const data = state.data || {};
  sound.setMedia(data.media);
  const noun = data.media === "audio" ? `windows of ${formatSeconds(data.window_s)}` : "images";
  $("data-name").textContent = data.name ? `${formatNumber(data.available ?? data.n_items)} ${noun} \u00b7 ${data.name}` : "";
  $("data-name").title = data.name || "";
  $("encoder-id").textContent = state.encoder ? state.encoder.id : "";
  $("current-query").textContent = state.query ? `\u201c${state.query}\u201d` : "none";
  renderModels();
  refreshConcepts();
}

/** A pushed retrain carries everything the panel shows: fold it in without asking again. */
function applyRetrain(msg) {
  if (!app.state) return;
  const point = msg.history_point;
  const history = (app.state.history || []).filter((p) => !point || p.seq !== point.seq);
  if (point) history.push(point);
  history.sort((a, b) => a.seq - b.seq);
  applyState({
    ...app.state,
    counts: msg.counts,
    last_train_ms: typeof msg.last_train_ms === "number" ? msg.last_train_ms : app.state.last_train_ms,
    history,
    effort: msg.effort,
    estimates: msg.estimates,
    stop: msg.stop,
    goal: msg.goal ?? app.state.goal,
    find: msg.find,
    can_undo: msg.can_undo,
  });
}

/** The push brings the panel up to date after a retrain; without a live socket, ask for it. */
function refreshUnlessPushed() {
  if (!socket.isOpen()) refreshState();
}

let refreshTimer = null;
/** Re-read the full state soon; several triggers in a row cost one request. */
function refreshState() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    try {
      applyState(await api.state());
    } catch (err) {
      showError(err);
    }
  }, 150);
}

// ---------------------------------------------------------------- the labeling loop

function setBusy(busy) {
  app.busy = busy;
  document.body.classList.toggle("is-busy", busy);
  $("confirm").disabled = busy;
  $("undo").disabled = busy || !(app.state && app.state.can_undo);
}

function currentStrategy() {
  return $("strategy").value || (app.state && app.state.default_strategy);
}

let loadSeq = 0;
function loadBatch() {
  if (app.status === "ready" && app.view !== "label") return runView((view) => view.load());
  return loadPage(() => api.nextBatch(currentStrategy(), Number($("batch-size").value)));
}

/** Fetch a page with `fetchPage` and show it; used by the menu's strategy and by "more like this". */
async function loadPage(fetchPage) {
  if (app.status !== "ready") return;
  // Menu changes can overlap a load in flight: only the latest request may render.
  const seq = ++loadSeq;
  setBusy(true);
  try {
    const batch = await fetchPage();
    if (seq === loadSeq) showBatch(batch);
  } catch (err) {
    if (seq === loadSeq) showError(err);
  } finally {
    if (seq === loadSeq) setBusy(false);
  }
}

function showBatch(batch, { restored = false } = {}) {
  app.batch = {
    batch_id: batch.batch_id ?? null,
    batch_type: batch.batch_type || "neutral",
    strategy: batch.strategy || null,
    restored,
  };
  document.body.classList.remove(...Object.values(MODES));
  document.body.classList.add(MODES[app.batch.batch_type] || MODES.neutral);

  const items = batch.items || [];
  grid.render(items);
  addCardButtons(grid, (ids) => searchSimilar(ids));
  socket.watch(grid.ids());

  const msg = $("message");
  const text = batch.message || (items.length ? "" : "No cards to show for this strategy.");
  msg.textContent = text;
  msg.hidden = !text;
  $("confirm").textContent = items.length ? "Confirm & Train" : "Next page";
}

function renderPageInfo() {
  const b = app.batch;
  if (!b || !grid.size) {
    $("page-info").textContent = "";
    $("page-tally").textContent = "";
    return;
  }
  const s = app.strategies.find((x) => x.name === b.strategy);
  const what = b.restored ? "Undone page \u2013 fix and confirm again" : s ? s.title : b.strategy || "Page";
  $("page-info").textContent = `${what} \u00b7 ${grid.size} cards`;
  const flipped = grid.flipped();
  $("page-tally").textContent =
    `${grid.positives()} positive \u00b7 ${grid.size - grid.positives()} negative` +
    (b.restored ? "" : ` \u00b7 ${flipped} corrected`);
}

async function confirm() {
  if (app.busy || app.status !== "ready") return;
  if (app.view !== "label") return runView((view) => view.confirm());
  if (!grid.size) return loadBatch();
  setBusy(true);
  try {
    const res = await api.submitLabels(grid.labels(), {
      batchId: app.batch && app.batch.batch_id,
      pageMs: grid.pageMs(),
      clicks: grid.clicks,
    });
    renderCounts(res.counts, res.train_ms);
    refreshUnlessPushed();
  } catch (err) {
    setBusy(false);
    return showError(err); // the page stays, so nothing the user did is lost
  }
  await loadBatch();
}

async function undo() {
  if (app.busy || app.status !== "ready") return;
  if (!(app.state && app.state.can_undo)) return toast("Nothing to undo.", "info");
  setBusy(true);
  try {
    const res = await api.undo();
    const page = res.page || { items: [], batch_type: "neutral" };
    setView("label", { load: false }); // an undone page (or correction) is fixed and confirmed as a page
    showBatch({ ...page, strategy: null }, { restored: true });
    renderCounts(res.counts);
    toast("Last page undone: its labels are back on screen to fix.", "info");
  } catch (err) {
    showError(err);
  } finally {
    setBusy(false);
    refreshUnlessPushed();
  }
}

/** A page the user has worked on is not thrown away by a menu change. */
function pageIsPristine() {
  return !grid.size || (grid.clicks === 0 && !(app.batch && app.batch.restored));
}

function onMenuChange(e) {
  e.target.blur(); // give the arrow keys back to the grid
  if (pageIsPristine()) loadBatch();
  else toast("Applies from the next page.", "info");
}

async function setQuery(e) {
  e.preventDefault();
  const text = $("query").value.trim();
  if (!text) return toast("Type what you are looking for first.", "error");
  $("set-query").disabled = true;
  try {
    const res = await api.setQuery(text);
    $("query").blur();
    toast(`Every image scored against \u201c${res.query}\u201d.`, "info");
    refreshState();
    if (pageIsPristine()) await loadBatch();
  } catch (err) {
    showError(err);
  } finally {
    $("set-query").disabled = !(app.state && app.state.encoder && app.state.encoder.has_text);
  }
}

// ---------------------------------------------------------------- pushes

function onPush(msg) {
  if (msg.type === "progress") {
    if (app.status !== "ready") showLoading({ progress: msg });
  } else if (msg.type === "ready") {
    if (app.status !== "ready") pollState();
  } else if (msg.type === "trained") {
    if (msg.concept && msg.concept !== currentConcept()) return; // another tab's concept
    if (msg.probs) grid.updateProbs(msg.probs);
    applyRetrain(msg);
    noteRetrain(msg);
    refreshTeam();
  }
}

function renderConnection(status) {
  const el = $("conn");
  el.dataset.status = status;
  el.title = status === "open" ? "Live updates on" : "Live updates reconnecting\u2026";
}

// ---------------------------------------------------------------- help and wiring

function toggleHelp(force) {
  const help = $("help");
  help.hidden = typeof force === "boolean" ? !force : !help.hidden;
}

const sound = bindAudio();

function wire() {
  relinkDownloads();
  $("confirm").addEventListener("click", confirm);
  $("undo").addEventListener("click", undo);
  $("strategy").addEventListener("change", onMenuChange);
  $("batch-size").addEventListener("change", onMenuChange);
  $("query-form").addEventListener("submit", setQuery);
  $("query").addEventListener("keydown", (e) => {
    if (e.key === "Escape") e.target.blur();
  });
  $("help-toggle").addEventListener("click", () => toggleHelp());
  for (const b of document.querySelectorAll("[data-view]")) b.addEventListener("click", () => setView(b.dataset.view));
  bindCloser(grid, sound.closer);
  $("help-close").addEventListener("click", () => toggleHelp(false));
  // Mouse clicks on toolbar buttons leave the focus where it was, so Enter/Space keep
  // meaning "confirm" instead of re-pressing the last button clicked.
  for (const b of document.querySelectorAll(".toolbar button, .helpline button")) {
    b.addEventListener("mousedown", (e) => e.preventDefault());
  }
  bindKeys({
    confirm,
    undo,
    toggleHelp: () => toggleHelp(),
    closeHelp: () => toggleHelp(false),
    moveFocus: (dx, dy) => grid.moveFocus(dx, dy),
    toggleFocused: () => !app.busy && grid.toggleFocused(),
    toggleIndex: (i) => {
      if (app.busy || i >= grid.size) return;
      grid.setFocus(i);
      grid.toggle(i);
    },
  });
}

const { searchCards: searchSimilar } = bindSimilar({
  grid,
  show: (fetchPage) => {
    if (app.busy) return undefined;
    // the page's clicks are not labels until confirmed: never throw them away
    if (!pageIsPristine()) return toast("Confirm this page first: \u201cmore like this\u201d replaces it.", "info");
    setView("label", { load: false }); // its page is labeled as a page
    return loadPage(fetchPage);
  },
  batchSize: () => Number($("batch-size").value),
  onError: showError,
});

/** A goal switched: the panel shows its headline and stop signal, the menu its strategy. */
function onGoalChanged(res) {
  const { strategy, ...figures } = res;
  if (app.strategies.some((s) => s.name === strategy)) $("strategy").value = strategy;
  applyState({ ...app.state, ...figures, default_strategy: strategy });
  if (pageIsPristine()) loadBatch();
  else toast("The goal's strategy applies from the next page.", "info");
}

wire();
bindGoal({ onChanged: onGoalChanged, onError: showError });
socket.connect();
pollState();
