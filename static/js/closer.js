// A closer look: hold z (or press and hold a card) to see the focused card large: the source
// image at full resolution for image folders, the tile scaled up for sprite sheets, a wide
// spectrogram with context for a window of a recording (`hooks` play it). Letting go closes it. Keys keep working while it is open (arrows move the focus, and the view follows).

import { typingIn } from "./keyboard.js";
import { withToken } from "./api.js";

const $ = (id) => document.getElementById(id);
const LONG_PRESS_MS = 450;
const ARROWS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"]);

export function bindCloser(grid, hooks = {}) {
  const box = $("closer");
  const img = $("closer-img");
  const caption = $("closer-caption");
  let shown = null; // the id on screen
  let hovered = -1;
  let pressTimer = null;
  let swallowClick = false;

  const target = () => grid.cards[grid.focus] || grid.cards[hovered] || grid.cards[0];

  function open(card) {
    if (!card) return;
    shown = card.id;
    img.src = card.el.querySelector("img").src; // the thumbnail at once, the full image when it arrives
    const full = new Image();
    full.onload = () => {
      if (shown === card.id) img.src = full.src;
    };
    full.src = withToken(`/api/image/${card.id}`);
    const where = card.el.dataset.media === "audio" ? ` \u00b7 ${card.el.title}` : ""; // a window's file and times
    caption.textContent = card.overlay.textContent + where;
    box.hidden = false;
    hooks.open?.(card);
  }

  function close() {
    shown = null;
    box.hidden = true;
    hooks.close?.();
  }

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typingIn(e.target)) return;
    if (e.key === "z" || e.key === "Z") {
      e.preventDefault();
      if (!e.repeat && box.hidden) open(target());
    } else if (ARROWS.has(e.key) && !box.hidden) {
      setTimeout(() => open(target()), 0); // after the grid has moved its focus
    }
  });
  document.addEventListener("keyup", (e) => {
    if (e.key === "z" || e.key === "Z") close();
  });
  window.addEventListener("blur", close);

  const root = grid.root;
  root.addEventListener("mouseover", (e) => {
    const el = e.target.closest(".card");
    hovered = el ? grid.cards.findIndex((c) => c.el === el) : -1;
  });
  root.addEventListener("pointerdown", (e) => {
    const el = e.target.closest(".card");
    if (!el || e.button !== 0) return;
    clearTimeout(pressTimer);
    pressTimer = setTimeout(() => {
      swallowClick = true; // the click that ends a long press must not flip the card
      open(grid.cards.find((c) => c.el === el));
    }, LONG_PRESS_MS);
  });
  for (const type of ["pointerup", "pointercancel", "pointerleave"]) {
    root.addEventListener(type, () => {
      clearTimeout(pressTimer);
      if (swallowClick && !box.hidden) close();
    });
  }
  root.addEventListener("click", (e) => {
    if (!swallowClick) return;
    swallowClick = false;
    e.stopImmediatePropagation();
    e.preventDefault();
  }, true);
  root.addEventListener("contextmenu", (e) => {
    if (swallowClick) e.preventDefault(); // a long touch would open the menu
  });
  return { open, close, isOpen: () => !box.hidden };
}
