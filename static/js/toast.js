// Dismissable toasts for errors and short notices; the page never uses alert().

const HIDE_AFTER_MS = { error: 10000, info: 4000 };
let box = null;

function container() {
  if (!box) box = document.getElementById("toasts");
  return box;
}

export function toast(message, kind = "error") {
  const el = document.createElement("div");
  el.className = `toast toast-${kind}`;
  el.setAttribute("role", kind === "error" ? "alert" : "status");

  const text = document.createElement("span");
  text.className = "toast-text";
  text.textContent = message;

  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-close";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "\u00d7";
  close.addEventListener("click", () => el.remove());

  el.append(text, close);
  // The same error repeated (e.g. a failing poll) replaces the old toast instead of stacking.
  for (const old of container().querySelectorAll(".toast")) {
    if (old.querySelector(".toast-text").textContent === message) old.remove();
  }
  container().append(el);
  setTimeout(() => el.remove(), HIDE_AFTER_MS[kind] ?? HIDE_AFTER_MS.error);
  return el;
}

export const showError = (err) => toast(err && err.message ? err.message : String(err), "error");
