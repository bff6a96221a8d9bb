// Windows of recordings: hear a card. Focus a card and press p to play its window (Shift+p: with
// one window of context either side); "listen on hover" plays the card under the mouse. One sound
// at a time: a new one stops the last, and p on the card that is playing stops it. The playing
// card shows its progress; the closer look (hold z) plays the context under a moving cursor.

import { typingIn } from "./keyboard.js";
import { api } from "./api.js";
import { toast } from "./toast.js";

const $ = (id) => document.getElementById(id);
const HOVER_DELAY_MS = 150; // a mouse passing over cards does not start every one of them
const HOVER_KEY = "fastlabel.listenOnHover";

/** "4.5 s" below a minute, "1:02.5" above. */
export function formatSeconds(s) {
  if (typeof s !== "number") return "";
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m}:${(s - 60 * m).toFixed(1).padStart(4, "0")}`;
}

/** A window's hover text: its file and where in it the window lies. */
export function windowTitle(item) {
  return `${item.name} \u00b7 ${formatSeconds(item.start_s)} \u2013 ${formatSeconds(item.end_s)}`;
}

class Player {
  constructor(el) {
    this.el = el; // the page's one <audio> element: one sound at a time
    this.card = null; // the card element playing
    this.context = 0;
    this.bar = null;
    this.frame = 0;
    this.listeners = new Set(); // called with the fraction played, for the closer look's cursor
    el.addEventListener("ended", () => this.stop());
    el.addEventListener("error", () => {
      if (this.card) toast("This window could not be played.", "error");
      this.stop();
    });
  }

  isPlaying(cardEl, context) {
    return this.card === cardEl && this.context === context && !this.el.paused;
  }

  play(cardEl, context = 0) {
    this.stop();
    this.card = cardEl;
    this.context = context;
    this.bar = document.createElement("div");
    this.bar.className = "card-progress";
    cardEl.append(this.bar);
    cardEl.classList.add("is-playing");
    this.el.src = api.audioUrl(Number(cardEl.dataset.id), context);
    this.el.play().catch((err) => {
      if (err.name === "AbortError") return; // stopped for another sound before it began
      toast(`Cannot play: ${err.message}`, "error");
      this.stop();
    });
    const tick = () => {
      const d = this.el.duration;
      const fraction = d > 0 && Number.isFinite(d) ? Math.min(1, this.el.currentTime / d) : 0;
      if (this.bar) this.bar.style.width = `${(100 * fraction).toFixed(1)}%`;
      for (const listener of this.listeners) listener(fraction);
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }

  stop() {
    cancelAnimationFrame(this.frame);
    if (!this.el.paused) this.el.pause();
    if (this.card) this.card.classList.remove("is-playing");
    if (this.bar) this.bar.remove();
    this.card = this.bar = null;
    for (const listener of this.listeners) listener(null);
  }
}

/** The card element the keys act on: the focused one on screen, else the one under the mouse. */
function targetCard(hovered) {
  const focused = [...document.querySelectorAll(".card.is-focused")].find((el) => el.offsetParent !== null);
  return focused || (hovered && hovered.isConnected ? hovered : null);
}

/**
 * Sound for the cards, once the page knows the items are windows of recordings (`setMedia("audio")`).
 * Returns {setMedia, closer}: `closer` are the closer look's hooks (open, close) that play the context
 * and move its cursor.
 */
export function bindAudio() {
  const player = new Player($("player"));
  const hoverBox = $("listen-hover-box");
  const hoverToggle = $("listen-hover");
  let audio = false;
  let hovered = null;
  let hoverTimer = 0;

  hoverToggle.checked = localStorage.getItem(HOVER_KEY) === "1";
  hoverToggle.addEventListener("change", () => {
    localStorage.setItem(HOVER_KEY, hoverToggle.checked ? "1" : "0");
    if (!hoverToggle.checked) player.stop();
  });

  function toggle(cardEl, context) {
    if (!cardEl) return;
    if (player.isPlaying(cardEl, context)) player.stop();
    else player.play(cardEl, context);
  }

  document.addEventListener("keydown", (e) => {
    if (!audio || e.ctrlKey || e.metaKey || e.altKey || e.repeat || typingIn(e.target)) return;
    if (e.key !== "p" && e.key !== "P") return;
    e.preventDefault();
    toggle(targetCard(hovered), e.shiftKey ? 1 : 0);
  });
  document.addEventListener("mouseover", (e) => {
    const el = e.target instanceof Element ? e.target.closest(".card") : null;
    if (el === hovered) return;
    hovered = el;
    clearTimeout(hoverTimer);
    if (!audio || !hoverToggle.checked) return;
    if (!el) return player.stop();
    hoverTimer = setTimeout(() => {
      if (hovered === el && !player.isPlaying(el, 0)) player.play(el, 0);
    }, HOVER_DELAY_MS);
  });
  // a page replaced under the sound: stop it
  new MutationObserver(() => {
    if (player.card && !player.card.isConnected) player.stop();
  }).observe(document.body, { childList: true, subtree: true });

  const cursor = $("closer-cursor");
  const closerImg = $("closer-img");
  function moveCursor(fraction) {
    if (fraction === null || $("closer").hidden) {
      cursor.hidden = true;
      return;
    }
    cursor.hidden = false;
    // the picture sits inside the element's box (object-fit: contain): follow the picture, not the box
    const box = { w: closerImg.clientWidth, h: closerImg.clientHeight };
    const scale = Math.min(box.w / (closerImg.naturalWidth || box.w), box.h / (closerImg.naturalHeight || box.h));
    const drawn = { w: (closerImg.naturalWidth || box.w) * scale, h: (closerImg.naturalHeight || box.h) * scale };
    const left = closerImg.offsetLeft + (box.w - drawn.w) / 2;
    cursor.style.left = `${left + fraction * drawn.w}px`;
    cursor.style.top = `${closerImg.offsetTop + (box.h - drawn.h) / 2}px`;
    cursor.style.height = `${drawn.h}px`;
  }
  player.listeners.add(moveCursor);

  return {
    setMedia(media) {
      audio = media === "audio";
      hoverBox.hidden = !audio;
      document.body.classList.toggle("is-audio", audio);
      if (!audio) player.stop();
    },
    closer: {
      // the wide spectrogram spans the window and one window either side: the sound it plays
      open(card) {
        $("closer").classList.toggle("is-wide", audio);
        if (audio && card && !player.isPlaying(card.el, 1)) player.play(card.el, 1);
      },
      close() {
        cursor.hidden = true;
        if (audio && player.context === 1) player.stop();
      },
    },
  };
}
