// "More like this": from a card (its small button, or the M key on the focused card) or from an
// image dropped or pasted into the page, show the unlabeled items nearest to it, pre-labeled
// positive. With no card focused, M searches around every labeled positive.

import { ApiError, api } from "./api.js";

const MAX_SIDE = 512; // a dropped photo is scaled down before upload: the server takes 2 MB at most

/** The page of items nearest to the given cards (none: around every labeled positive). */
export function similarToCards(ids, batchSize) {
  return api.nextBatch("similar", batchSize, ids);
}

/** The page of items nearest to an image file (scaled down to MAX_SIDE first when the browser can read it). */
export async function similarToImage(file, batchSize) {
  let body = file;
  let type = file.type || "application/octet-stream";
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    body = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
    type = "image/jpeg";
  } catch {
    // not decodable here: send it as it is and let the server say what is wrong with it
  }
  return api.similarImage(body, type, batchSize);
}

/** A small "more like this" button on every card of the grid. */
export function addCardButtons(grid, onSimilar) {
  for (const card of grid.cards) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "card-similar";
    button.textContent = "\u2248";
    button.title = "More like this (M)";
    button.setAttribute("aria-label", `More like #${card.id}`);
    button.addEventListener("click", (e) => {
      e.stopPropagation(); // a click on the button is not a click that flips the card
      onSimilar([card.id]);
    });
    button.addEventListener("mousedown", (e) => e.preventDefault());
    card.el.append(button);
  }
}

function imageFile(items) {
  for (const item of items || []) {
    const file = item.kind === undefined ? item : item.kind === "file" ? item.getAsFile() : null;
    if (file && file.type.startsWith("image/")) return file;
  }
  return null;
}

/**
 * Wire the key, drop and paste. `show(fetchPage)` loads and shows a page the way the app does;
 * `batchSize()` is the page size chosen in the toolbar; `onError` shows a message.
 */
export function bindSimilar({ grid, show, batchSize, onError }) {
  const searchCards = (ids) => show(() => similarToCards(ids, batchSize()));
  const searchImage = (file) => show(() => similarToImage(file, batchSize()));

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing || e.repeat) return;
    if (e.key !== "m" && e.key !== "M") return;
    const t = e.target;
    if (t instanceof Element && (t.isContentEditable || t.matches("input, textarea, select"))) return;
    e.preventDefault();
    const card = grid.cards[grid.focus];
    searchCards(card ? [card.id] : []);
  });

  document.addEventListener("dragover", (e) => {
    if (![...(e.dataTransfer?.types || [])].includes("Files")) return;
    e.preventDefault(); // allows the drop
    document.body.classList.add("is-dropping");
  });
  document.addEventListener("dragleave", (e) => {
    if (e.relatedTarget === null) document.body.classList.remove("is-dropping");
  });
  document.addEventListener("drop", (e) => {
    if (![...(e.dataTransfer?.types || [])].includes("Files")) return;
    e.preventDefault();
    document.body.classList.remove("is-dropping");
    const file = imageFile(e.dataTransfer.files);
    if (file) searchImage(file);
    else onError(new ApiError("Drop an image file (PNG, JPEG, WebP, GIF or BMP) to find more like it.", 400));
  });
  document.addEventListener("paste", (e) => {
    const file = imageFile(e.clipboardData?.items);
    if (!file) return; // text pastes (e.g. into the query box) go on as usual
    e.preventDefault();
    searchImage(file);
  });

  return { searchCards, searchImage };
}
