"""Active search for every positive of a rare concept: efficient non-myopic search (ENS) on the kNN graph.

The model (Jiang et al. 2017, "Efficient nonmyopic active search"): an unlabeled item's chance of
being positive is  p(x) = (gamma + sum of its weights to labeled positives) / (1 + sum of its
weights to labeled items),  over the edges from each labeled item to its k nearest neighbours (the
neighbour index's lists, searched once per item and remembered), so a page costs O(labeled x k).
Once a head exists its probability is blended in (`head_weight`).

A candidate's score is  p(x) + E[sum of the top-T probabilities after x is labeled],  T being the
rest of the look-ahead horizon: it prefers an item whose label, either way, would tell the most
about its neighbours. Labeling x changes only its neighbours' p (the sparse update), so a score
costs O(T + k) from one sorted list of the current probabilities.

A page of n is built one card at a time, each chosen card labeled negative in fiction before the
next is scored (the pessimistic fictional oracle of the batch version, Jiang et al. 2018): that
lowers its neighbours' p and spreads the page over neighbourhoods. `sequential=False` scores once
and takes the top n (the cheaper greedy-batch approximation).

Candidates are the SEALS candidates (every unlabeled item on a small pool; the unlabeled
neighbours of labeled items plus a sample on a large one), and only the `shortlist` with the
highest p are scored in full. Without a ready neighbour index it ranks by the head (verify positives).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Choose, Pool, top_k
from .candidates import SEALS, candidates
from .confidence import choose_verify_positives


@dataclass(frozen=True)
class SearchPlan:
    k: int = 20  # neighbours per item in the model's graph
    gamma: float = 0.1  # prior weight towards positive of an item with no labeled neighbour
    head_weight: float = 0.8  # share of the head's probability in p (0: the kNN model alone)
    horizon_pages: int = 1  # look-ahead: the top-T sum counts this many pages of cards
    shortlist: int = 2  # candidates scored in full per card of the page (at least 64)
    sequential: bool = True  # False: greedy batch (score once, take the top n)


@dataclass
class Graph:
    """The kNN model restricted to the candidates: evidence sums and the probabilities they give."""

    ids: np.ndarray  # candidate ids, sorted
    num: np.ndarray  # sum of weights to labeled positives
    den: np.ndarray  # sum of weights to labeled items
    head: np.ndarray | None
    plan: SearchPlan

    def probs(self, num: np.ndarray, den: np.ndarray, head: np.ndarray | None) -> np.ndarray:
        knn = (self.plan.gamma + num) / (1.0 + den)
        if head is None or self.plan.head_weight <= 0:
            return knn
        return self.plan.head_weight * head + (1.0 - self.plan.head_weight) * knn

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Position of each id among the candidates, -1 where it is not one."""
        at = np.searchsorted(self.ids, ids)
        at = np.minimum(at, len(self.ids) - 1)
        return np.where(self.ids[at] == ids, at, -1)


def neighbour_lists(pool: Pool, items: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each item's k nearest other items and their edge weights (cosine similarity, at least 0)."""
    assert pool.index is not None and pool.index.neighbours is not None
    out = []
    for item, (ids, sims) in zip(items.tolist(), pool.index.neighbours.lists(items, pool.embeddings, SEALS.k)):
        keep = ids != item
        out.append((ids[keep][:k], np.clip(sims[keep][:k], 0.0, None).astype(np.float64)))
    return out


def build_graph(pool: Pool, cand: np.ndarray, plan: SearchPlan) -> Graph:
    """Evidence of every candidate from the labeled items whose neighbour lists hold it."""
    graph = Graph(np.sort(cand), np.zeros(len(cand)), np.zeros(len(cand)), None, plan)
    if pool.has_head or pool.has_prior:
        graph.head = np.asarray(pool.probs[graph.ids], dtype=np.float64)
    if pool.labels:
        labeled = np.fromiter(pool.labels, dtype=np.int64, count=len(pool.labels))
        y = np.fromiter(pool.labels.values(), dtype=np.float64, count=len(pool.labels))
        lists = neighbour_lists(pool, labeled, plan.k)
        nb = np.concatenate([ids for ids, _ in lists])
        w = np.concatenate([ws for _, ws in lists])
        lab = np.repeat(y, [len(ids) for ids, _ in lists])
        at = graph.positions(nb)
        ok = at >= 0
        np.add.at(graph.den, at[ok], w[ok])
        np.add.at(graph.num, at[ok], (w * lab)[ok])
    return graph


def top_sum(values: np.ndarray, t: int) -> float:
    if t <= 0 or values.size == 0:
        return 0.0
    if values.size <= t:
        return float(values.sum())
    return float(np.partition(values, values.size - t)[values.size - t:].sum())


def ens_scores(graph: Graph, p: np.ndarray, shortlist: np.ndarray, lists: list[tuple[np.ndarray, np.ndarray]],
               t: int, taken: np.ndarray) -> np.ndarray:
    """ENS score of each shortlisted position: p + p * top_t(p | y=1) + (1 - p) * top_t(p | y=0).

    Only the candidate's neighbours change, so each top-t sum comes from the current top (t + k + 1)
    probabilities with the candidate and its neighbours taken out and their new values put in."""
    live = np.where(taken, -np.inf, p)
    depth = min(live.size, t + graph.plan.k + 1)
    top = np.argpartition(-live, depth - 1)[:depth] if depth < live.size else np.arange(live.size)
    scores = np.empty(len(shortlist))
    for j, (x, (nb, w)) in enumerate(zip(shortlist.tolist(), lists)):
        at = graph.positions(nb)
        keep = (at >= 0) & ~taken[np.maximum(at, 0)]
        at, w = at[keep], w[keep]
        rest = top[~np.isin(top, at) & (top != x)]
        base = live[rest]
        head = graph.head[at] if graph.head is not None else None
        if_pos = graph.probs(graph.num[at] + w, graph.den[at] + w, head)
        if_neg = graph.probs(graph.num[at], graph.den[at] + w, head)
        px = p[x]
        scores[j] = px + px * top_sum(np.concatenate([base, if_pos]), t) \
            + (1 - px) * top_sum(np.concatenate([base, if_neg]), t)
    return scores


def make_active_search(plan: SearchPlan = SearchPlan()) -> Choose:
    """The strategy's `choose(pool, n)`."""

    def choose(pool: Pool, n: int) -> np.ndarray:
        if pool.index is None or pool.index.neighbours is None:
            return choose_verify_positives(pool, n)
        cand = candidates(pool, n)
        graph = build_graph(pool, cand, plan)
        p = graph.probs(graph.num, graph.den, graph.head)
        taken = np.zeros(len(graph.ids), bool)
        n = min(n, len(graph.ids))
        horizon = plan.horizon_pages * n
        m = max(64, plan.shortlist * n)
        picked: list[int] = []
        scored: np.ndarray | None = None
        order: np.ndarray | None = None
        while len(picked) < n:
            if scored is None or plan.sequential:
                live = np.where(taken, -np.inf, p)
                short = top_k(np.arange(len(live)), -live, min(m, int((~taken).sum())), pool.rng)
                lists = neighbour_lists(pool, graph.ids[short], plan.k)
                scored = ens_scores(graph, p, short, lists, horizon - len(picked) - 1, taken)
                order = short[top_k(np.arange(len(short)), -scored, len(short), pool.rng)]
            if not plan.sequential:
                picked = order[:n].tolist()
                break
            x = int(order[0])
            picked.append(x)
            taken[x] = True
            nb, w = lists[int(np.flatnonzero(short == x)[0])]
            at = graph.positions(nb)
            at, w = at[at >= 0], w[at >= 0]
            graph.den[at] += w  # the fictional label: negative
            p[at] = graph.probs(graph.num[at], graph.den[at], graph.head[at] if graph.head is not None else None)
        return graph.ids[np.asarray(picked, dtype=np.int64)]

    return choose
