// The review page: cards you labeled whose out-of-fold prediction (small heads trained on the
// other labels, never on the card itself) disagrees most with your label. Each card starts at
// your label, marked "you: Pos/Neg"; its overlay shows the out-of-fold guess. Flip the wrong
// ones and confirm: the flips are recorded as corrections, and the next review page follows.

import { api } from "./api.js";
import { toast } from "./toast.js";

/** Mark each card with the label a person gave it ("you: Pos"), and a pencil when it was corrected. */
export function markHuman(grid, items) {
  const byId = new Map(items.map((item) => [item.id, item]));
  for (const card of grid.cards) {
    const item = byId.get(card.id);
    if (!item || (item.label !== 0 && item.label !== 1)) continue;
    const tag = document.createElement("span");
    tag.className = "card-human";
    tag.textContent = `you: ${item.label ? "Pos" : "Neg"}${item.corrected ? " \u270e" : ""}`;
    tag.title = item.corrected ? "Your label, changed by a correction" : "The label you gave";
    card.el.append(tag);
  }
}

/** The cards whose label now differs from the one given before: the corrections to record. */
export function changedLabels(grid, given) {
  return grid.labels().filter((l) => given.has(l.id) && given.get(l.id) !== l.label);
}

export class ReviewView {
  /** show(batch): renders a page in the grid; pageSize(): cards per page. */
  constructor({ grid, show, pageSize }) {
    this.grid = grid;
    this.show = show;
    this.pageSize = pageSize;
    this.given = new Map();
    this.batchId = null;
    this.title = "Review labels";
  }

  async load() {
    const page = await api.review(this.pageSize());
    this.batchId = page.batch_id;
    this.given = new Map(page.items.map((item) => [item.id, item.label]));
    this.show({ ...page, strategy: this.title, message: page.message });
    markHuman(this.grid, page.items);
  }

  async confirm() {
    const changed = changedLabels(this.grid, this.given);
    if (changed.length) {
      await api.correct(changed, { origin: "review", batchId: this.batchId });
      toast(`${changed.length} label${changed.length > 1 ? "s" : ""} corrected.`, "info");
    }
    await this.load();
  }
}
