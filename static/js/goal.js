// The user's goal: "find every positive" or "train a classifier". Its control sits in the
// toolbar; the panel's headline says how far the goal is: for "find", the positives found
// against those estimated in the pool (with the interval from the audit cards).

import { api } from "./api.js";
import { formatNumber } from "./stats.js";

const $ = (id) => document.getElementById(id);

/** The goal menu, from /api/state's `goals` and `goal`. */
export function fillGoals(state) {
  const select = $("goal");
  const goals = state.goals || [];
  if (select.options.length !== goals.length) {
    select.replaceChildren(...goals.map((g) => new Option(g.title, g.name)));
  }
  if (state.goal) select.value = state.goal;
  select.disabled = !goals.length;
}

/** The headline of the goal in effect. */
export function renderHeadline(state) {
  const el = $("goal-headline");
  const c = state.counts || {};
  if (!state.goal) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  el.dataset.goal = state.goal;
  if (state.goal === "find") {
    const find = state.find || {};
    const total = find.total;
    const found = formatNumber(find.found ?? c.positive ?? 0);
    el.textContent = total
      ? `${found} positives found / about ${formatNumber(Math.round(total.value))} estimated in the pool ` +
        `(${formatNumber(Math.round(total.low))}\u2013${formatNumber(Math.round(total.high))})`
      : `${found} positives found / the pool's total is estimated once audit cards are labeled`;
  } else {
    el.textContent = `Training a classifier: ${formatNumber(c.labeled ?? 0)} labels, ` +
      `${formatNumber(c.positive ?? 0)} positive`;
  }
}

/** Wire the control: the server records the goal (an event), the page follows its strategy. */
export function bindGoal({ onChanged, onError }) {
  $("goal").addEventListener("change", async (e) => {
    e.target.blur();
    try {
      onChanged(await api.setGoal(e.target.value));
    } catch (err) {
      onError(err);
    }
  });
}
