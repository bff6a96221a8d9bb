// The team panel: how many labelers are active and their pages per minute, who retrained last,
// agreement between labelers (kappa per labeler, flagged when low; Krippendorff's alpha), and, for
// admins, the disagreement queue: each card shows every labeler's label and is resolved Pos or Neg.

import { api } from "./api.js";
import { toast } from "./toast.js";

const $ = (id) => document.getElementById(id);
const QUEUE_SHOWN = 12;
let me = { name: "owner", role: "admin", team: false };
let pending = null;

function fig(value, digits = 2) {
  return value === null || value === undefined ? "\u2013" : Number(value).toFixed(digits);
}

function row(cells, className) {
  const tr = document.createElement("tr");
  if (className) tr.className = className;
  for (const [text, title] of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    if (title) td.title = title;
    tr.append(td);
  }
  return tr;
}

function renderLabelers(activity, agreement) {
  const byName = new Map((agreement.labelers || []).map((r) => [r.name, r]));
  const rate = new Map((activity.labelers || []).map((r) => [r.name, r]));
  const names = [...new Set([...byName.keys(), ...rate.keys()])].sort();
  const body = $("team-labelers");
  body.replaceChildren();
  for (const name of names) {
    const a = byName.get(name) || {};
    const r = rate.get(name) || {};
    const flagged = a.flagged ? " \u26a0" : "";
    const tr = row([
      [`${name}${name === me.name ? " (you)" : ""}${flagged}`,
        a.flagged ? `kappa below ${agreement.flag_below_kappa} with the others: look at their labels` : ""],
      [fig(r.pages_per_min, 1)],
      [fig(a.kappa), `${a.shared || 0} shared labels`],
      [a.agreement === null || a.agreement === undefined ? "\u2013" : `${Math.round(a.agreement * 100)}%`],
    ], a.flagged ? "flagged" : "");
    tr.dataset.labeler = name;
    body.append(tr);
  }
  $("team-active").textContent = `${activity.active} labeler${activity.active === 1 ? "" : "s"} active`;
  const overlap = $("overlap-per-page");
  if (document.activeElement !== overlap) overlap.value = String(activity.overlap_per_page ?? "");
  overlap.disabled = me.role !== "admin";
  $("team-alpha").textContent = agreement.alpha === null || agreement.alpha === undefined
    ? "Krippendorff's \u03b1: \u2013 (needs cards labeled by two people)"
    : `Krippendorff's \u03b1 ${fig(agreement.alpha)} over ${agreement.overlap_items} shared cards`;
}

function resolveButton(item, label, text) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "btn btn-small";
  b.textContent = text;
  b.dataset.resolve = String(label);
  b.addEventListener("click", async () => {
    try {
      await api.resolve([{ id: item.id, label }]);
      toast(`Card ${item.id} resolved ${label ? "positive" : "negative"}`, "info");
      refreshTeam();
    } catch (err) {
      toast(err.message, "error");
    }
  });
  return b;
}

function renderQueue(agreement) {
  const list = agreement.disagreements || [];
  const box = $("disagreements");
  box.hidden = me.role !== "admin" || list.length === 0;
  $("disagree-count").textContent = `(${list.length})`;
  const holder = $("disagree-list");
  holder.replaceChildren();
  if (box.hidden) return;
  for (const item of list.slice(0, QUEUE_SHOWN)) {
    const card = document.createElement("div");
    card.className = "disagree";
    card.dataset.id = String(item.id);
    const img = document.createElement("img");
    img.src = `data:image/png;base64,${item.image}`;
    img.alt = `card ${item.id}`;
    const votes = document.createElement("div");
    votes.className = "caption";
    votes.textContent = Object.entries(item.votes).map(([n, y]) => `${n}: ${y ? "Pos" : "Neg"}`).join(", ");
    card.append(img, votes, resolveButton(item, 1, "Pos"), resolveButton(item, 0, "Neg"));
    holder.append(card);
  }
}

/** Show who did the retrain a push announces ("bob's page retrained the head"). */
export function noteRetrain(msg) {
  if (!msg || !msg.by || $("team-section").hidden) return;
  const who = msg.by === me.name ? "your page" : `${msg.by}'s page`;
  const n = msg.counts ? msg.counts.labeled : "";
  $("team-last").textContent = `Last retrain: after ${who} (${n} labels)`;
  $("team-last").dataset.by = msg.by;
}

/** Re-read activity and agreement (a burst of calls costs one request of each). */
export function refreshTeam() {
  if (pending) return pending;
  pending = (async () => {
    try {
      const [activity, agreement] = await Promise.all([api.team(), api.agreement()]);
      const show = me.team || (agreement.labelers || []).length > 1;
      $("team-section").hidden = !show;
      if (!show) return;
      renderLabelers(activity, agreement);
      renderQueue(agreement);
    } catch {
      // the rest of the panel still shows; the next push tries again
    } finally {
      pending = null;
    }
  })();
  return pending;
}

/** An admin changes the overlap cards per page of this concept (the next pages carry them). */
async function changeOverlap(e) {
  const n = Number(e.target.value);
  if (!Number.isInteger(n) || n < 0) return toast("Overlap: a whole number of cards, 0 or more", "error");
  try {
    const res = await api.setOverlap(n);
    toast(`Pages now carry ${res.overlap_per_page} overlap card${res.overlap_per_page === 1 ? "" : "s"}`, "info");
  } catch (err) {
    toast(err.message, "error");
  }
  refreshTeam();
}

/** Who is signed in (a team server), for the panel's foot and the admin-only queue. */
export async function initTeam() {
  try {
    me = await api.me();
  } catch {
    return;
  }
  if (me.team && me.role !== "admin") {
    // a labeler labels and reviews: downloads and new concepts are an admin's (the server says 403)
    document.querySelector("nav.exports").hidden = true;
    $("new-concept").hidden = true;
  }
  if (me.team) {
    $("signed-in").hidden = false;
    $("signed-in-name").textContent = `Signed in as ${me.name} (${me.role})`;
    $("sign-out").addEventListener("click", async (e) => {
      e.preventDefault();
      await api.signOut().catch(() => {});
      window.location.replace("/signin");
    });
  }
  $("overlap-per-page").addEventListener("change", changeOverlap);
  refreshTeam();
}
