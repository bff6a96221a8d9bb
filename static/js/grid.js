// The card grid: one card per item, its label, the keyboard focus ring, and the effort
// counters (time on screen, clicks) that go with the page when it is submitted.

import { windowTitle } from "./audio.js";

const HIGHLIGHT_MS = 1200;
let threshold = 0.5; // the server's decision threshold; /api/state sends it

/** Use the server's decision threshold for pre-labels and overlays. */
export function setThreshold(value) {
  if (typeof value === "number" && value > 0 && value < 1) threshold = value;
}

/** "#7 - 98% Neg": the side the model leans to and its confidence in that side. */
export function overlayText(id, probPos) {
  const pos = probPos >= threshold;
  const pct = Math.round((pos ? probPos : 1 - probPos) * 100);
  return `#${id} - ${pct}% ${pos ? "Pos" : "Neg"}`;
}

export class Grid {
  constructor(root, { onChange } = {}) {
    this.root = root;
    this.onChange = onChange || (() => {});
    this.cards = []; // [{id, label, start, el, overlay}] in screen order; start: the label it was shown with
    this.focus = -1;
    this.clicks = 0;
    this.shownAt = 0;
    this.hiddenMs = 0;
    this.hiddenSince = null;

    // One listener for all cards: pages are re-rendered often.
    root.addEventListener("click", (e) => {
      const el = e.target.closest(".card");
      if (!el || !root.contains(el)) return;
      const index = this.cards.findIndex((c) => c.el === el);
      if (index < 0) return;
      this.setFocus(index, { scroll: false });
      this.toggle(index);
    });

    // Time spent in a background tab is not labeling effort.
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) this.hiddenSince = performance.now();
      else if (this.hiddenSince !== null) {
        this.hiddenMs += performance.now() - this.hiddenSince;
        this.hiddenSince = null;
      }
    });
  }

  get size() {
    return this.cards.length;
  }

  /**
   * Show a page. Each card starts with the label the server gives it (`item.prelabel`: 1 for
   * the strategy's cards of a "more like this" page, 0 before any model, else the model's
   * guess) or, without one, the model's guess; so the user only clicks the wrong ones. An
   * undone or review page brings back the labels the user gave (`item.label`).
   */
  render(items) {
    const frag = document.createDocumentFragment();
    this.cards = items.map((item) => {
      const given = item.prelabel === 0 || item.prelabel === 1;
      const predicted = given ? item.prelabel : item.prob_pos >= threshold ? 1 : 0;
      const label = item.label === 0 || item.label === 1 ? item.label : predicted;

      const el = document.createElement("div");
      el.dataset.id = String(item.id);
      if (item.media) el.dataset.media = item.media;
      if (item.name) el.title = item.media === "audio" ? windowTitle(item) : item.name; // file (and times) on hover
      const img = document.createElement("img");
      img.src = `data:image/png;base64,${item.image}`;
      img.alt = "";
      img.draggable = false;
      img.decoding = "async";
      const overlay = document.createElement("div");
      overlay.className = "card-overlay";
      overlay.textContent = overlayText(item.id, item.prob_pos);
      el.append(img, overlay);
      frag.append(el);

      const card = { id: item.id, label, start: label, el, overlay };
      this.paint(card);
      return card;
    });
    this.root.replaceChildren(frag);
    this.focus = -1;
    this.clicks = 0;
    this.shownAt = performance.now();
    this.hiddenMs = 0;
    this.hiddenSince = document.hidden ? this.shownAt : null;
    this.onChange();
  }

  clear() {
    this.render([]);
  }

  paint(card) {
    // classList rather than className: keeps a running highlight or the focus ring.
    card.el.classList.add("card");
    card.el.classList.toggle("is-positive", card.label === 1);
    card.el.classList.toggle("is-negative", card.label === 0);
  }

  toggle(index) {
    const card = this.cards[index];
    if (!card) return;
    card.label = card.label ? 0 : 1;
    this.clicks += 1;
    this.paint(card);
    this.onChange();
  }

  toggleFocused() {
    if (this.focus >= 0) this.toggle(this.focus);
  }

  setFocus(index, { scroll = true } = {}) {
    const prev = this.cards[this.focus];
    if (prev) prev.el.classList.remove("is-focused");
    this.focus = index;
    const card = this.cards[index];
    if (!card) return;
    card.el.classList.add("is-focused");
    if (scroll) card.el.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  /** Cards per row, read from the layout so it follows the window width. */
  columns() {
    if (this.cards.length < 2) return 1;
    const top = this.cards[0].el.offsetTop;
    const n = this.cards.findIndex((c) => c.el.offsetTop !== top);
    return n < 0 ? this.cards.length : n;
  }

  moveFocus(dx, dy) {
    if (!this.cards.length) return;
    if (this.focus < 0) return this.setFocus(0);
    const step = dx + dy * this.columns();
    const next = this.focus + step;
    if (next >= 0 && next < this.cards.length) this.setFocus(next);
  }

  labels() {
    return this.cards.map((c) => ({ id: c.id, label: c.label }));
  }

  ids() {
    return this.cards.map((c) => c.id);
  }

  /** Cards the user changed from the label they were shown with (the model's guess, or on a
   * review page the earlier human label): what the user corrected on this page. */
  flipped() {
    return this.cards.reduce((n, c) => n + (c.label !== c.start ? 1 : 0), 0);
  }

  positives() {
    return this.cards.reduce((n, c) => n + c.label, 0);
  }

  pageMs() {
    const now = performance.now();
    const hidden = this.hiddenMs + (this.hiddenSince !== null ? now - this.hiddenSince : 0);
    return Math.max(0, Math.round(now - this.shownAt - hidden));
  }

  /**
   * New probabilities after a retrain: update the overlay text only. The user's labels on
   * this page are theirs until they submit, so the card classes stay as they are.
   */
  updateProbs(probs) {
    let changed = 0;
    for (const card of this.cards) {
      const p = probs[String(card.id)];
      if (typeof p !== "number") continue;
      const text = overlayText(card.id, p);
      if (text === card.overlay.textContent) continue;
      card.overlay.textContent = text;
      card.el.classList.remove("is-updated");
      void card.el.offsetWidth; // restart the highlight animation
      card.el.classList.add("is-updated");
      clearTimeout(card.highlightTimer);
      card.highlightTimer = setTimeout(() => card.el.classList.remove("is-updated"), HIGHLIGHT_MS);
      changed += 1;
    }
    return changed;
  }
}
