// The labeled gallery: what has been labeled, newest first, filtered by positive / negative /
// corrected. Each card starts at its label; flip any and confirm to record the change (a
// correction event). With nothing flipped, Confirm moves on to older labels.

import { api } from "./api.js";
import { formatNumber } from "./stats.js";
import { toast } from "./toast.js";
import { changedLabels, markHuman } from "./review.js";

const $ = (id) => document.getElementById(id);

export class GalleryView {
  constructor({ grid, show, pageSize, reload }) {
    this.grid = grid;
    this.show = show;
    this.pageSize = pageSize;
    this.reload = reload; // loads the gallery again through the page's busy/error handling
    this.offset = 0;
    this.total = 0;
    this.given = new Map();
    this.title = "Labeled";
    $("gallery-filter").addEventListener("change", (e) => {
      e.target.blur();
      this.offset = 0;
      this.reload();
    });
    $("gallery-newer").addEventListener("click", () => this.step(-1));
    $("gallery-older").addEventListener("click", () => this.step(1));
  }

  get filter() {
    return $("gallery-filter").value || "all";
  }

  step(direction) {
    const next = this.offset + direction * this.pageSize();
    if (next < 0 || next >= this.total) return;
    this.offset = next;
    this.reload();
  }

  async load() {
    const size = this.pageSize();
    const page = await api.labeled(this.filter, this.offset, size);
    this.total = page.total;
    if (this.offset > 0 && this.offset >= page.total) {
      this.offset = Math.max(0, page.total - size);
      return this.load();
    }
    this.given = new Map(page.items.map((item) => [item.id, item.label]));
    const message = page.total ? "" : "Nothing labeled matches this filter yet.";
    this.show({ items: page.items, batch_type: "neutral", strategy: this.title, message });
    markHuman(this.grid, page.items);
    const last = Math.min(page.total, this.offset + page.items.length);
    $("gallery-range").textContent = page.total
      ? `${formatNumber(this.offset + 1)}\u2013${formatNumber(last)} of ${formatNumber(page.total)}, newest first`
      : "";
    $("gallery-newer").disabled = this.offset === 0;
    $("gallery-older").disabled = last >= page.total;
  }

  async confirm() {
    const changed = changedLabels(this.grid, this.given);
    if (changed.length) {
      await api.correct(changed, { origin: "gallery" });
      toast(`${changed.length} label${changed.length > 1 ? "s" : ""} changed.`, "info");
    } else if (this.offset + this.pageSize() < this.total) {
      this.offset += this.pageSize();
    }
    await this.load();
  }
}
