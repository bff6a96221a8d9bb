// Concepts: the picker in the header (what is being labeled), New concept, and switching.
// Every API call and download link carries the chosen concept (api.useConcept), so a tab
// keeps labeling its own concept even when another tab switches.

import { api, useConcept } from "./api.js";
import { showError, toast } from "./toast.js";

const $ = (id) => document.getElementById(id);
let current = null;
let hooks = { canLeave: () => true, onSwitch: async () => {}, hasText: () => false, setBusy: () => {} };

function render(list) {
  const picker = $("concept-picker");
  picker.replaceChildren(
    ...list.concepts.map((c) => {
      const opt = new Option(`${c.name} (${c.labeled})`, c.name);
      opt.title = `${c.labeled} labeled, ${c.positive} positive`;
      return opt;
    }),
  );
  picker.value = current;
  picker.disabled = false;
  $("new-concept").disabled = false;
  document.title = `${current} \u00b7 FastLabel`;
}

function use(name) {
  current = name;
  useConcept(name); // and every download link with it
}

/** The concept a tab starts on: the one in its URL when given, else the server's current one. */
export async function initConcepts(options) {
  hooks = { ...hooks, ...options };
  const list = await api.concepts();
  const asked = new URLSearchParams(location.search).get("concept");
  const known = list.concepts.map((c) => c.name);
  use(asked && known.includes(asked) ? asked : list.current);
  render(list);
  return current;
}

export function currentConcept() {
  return current;
}

/** Re-read the names and counts (after a page is confirmed, say). */
export async function refreshConcepts() {
  try {
    render(await api.concepts());
  } catch {
    // the picker keeps its last names; the next refresh tries again
  }
}

async function switchTo(name, { created = false } = {}) {
  // the cards shown belong to the concept being left: no confirm until the new concept's page is in
  hooks.setBusy(true);
  try {
    const res = created ? await api.createConcept(name) : await api.switchConcept(name);
    use(res.name);
    render(res);
    await hooks.onSwitch(res.name);
    return res.name;
  } finally {
    hooks.setBusy(false);
  }
}

async function onPick(e) {
  const name = e.target.value;
  e.target.blur();
  if (name === current) return;
  if (!hooks.canLeave()) {
    e.target.value = current;
    return toast("Confirm (or undo) this page first: its clicks belong to the current concept.", "info");
  }
  try {
    await switchTo(name);
  } catch (err) {
    e.target.value = current;
    showError(err);
  }
}

function openForm(open) {
  $("concept-form").hidden = !open;
  $("concept-picker").hidden = open; // the form takes their place in the row
  $("new-concept").hidden = open;
  if (open) {
    $("concept-name").value = "";
    $("concept-name").focus();
  } else if ($("concept-form").contains(document.activeElement)) {
    document.activeElement.blur(); // a hidden field must not keep the keys: they go back to the grid
  }
}

async function onCreate(e) {
  e.preventDefault();
  const name = $("concept-name").value.trim();
  if (!name) return toast("Name the concept first, e.g. smiling.", "error");
  if (!hooks.canLeave()) return toast("Confirm (or undo) this page first.", "info");
  try {
    const made = await switchTo(name, { created: true });
    openForm(false);
    if (hooks.hasText()) {
      $("query").value = made;
      toast(`Now labeling \u201c${made}\u201d. Press Zero-shot to score every image against a description of it.`, "info");
    } else {
      toast(`Now labeling \u201c${made}\u201d.`, "info");
    }
  } catch (err) {
    showError(err);
  }
}

$("concept-picker").addEventListener("change", onPick);
$("new-concept").addEventListener("click", () => openForm($("concept-form").hidden));
$("concept-form").addEventListener("submit", onCreate);
$("concept-cancel").addEventListener("click", () => openForm(false));
$("concept-name").addEventListener("keydown", (e) => {
  if (e.key === "Escape") openForm(false);
});
