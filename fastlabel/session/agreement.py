"""Agreement between labelers, pure: from every labeler's own labels (`SessionState.votes`).

- pairwise: for each pair of labelers, over the items both labeled, the share they agree on and
  Cohen's kappa (agreement beyond what each one's rate of positives gives by chance);
- Krippendorff's alpha (nominal) over every labeler at once, from the items two or more labeled;
- per labeler: agreement and kappa of their labels against every other labeler's on shared items
  (all pairs pooled in one 2x2 table), flagged below a kappa threshold once enough labels are shared;
- disagreements: items whose labels differ and that no admin has resolved, the queue an admin works through.
Undefined figures (no shared items, or a single class everywhere) are None, never a made-up number.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Mapping

from ..events.label_policy import Vote, label_in_effect

FLAG_BELOW_KAPPA = 0.7  # a labeler whose kappa with the others is below this is flagged
MIN_SHARED = 10  # ... once they share at least this many labels with the others


@dataclass(frozen=True)
class Table:
    """A 2x2 table of paired labels: n[a][b] counts pairs where the first said a and the second b."""

    n00: int = 0
    n01: int = 0
    n10: int = 0
    n11: int = 0

    @property
    def total(self) -> int:
        return self.n00 + self.n01 + self.n10 + self.n11

    def agreement(self) -> float | None:
        return (self.n00 + self.n11) / self.total if self.total else None

    def kappa(self) -> float | None:
        """Cohen's kappa; None when undefined (no pairs, or chance agreement is already 1)."""
        n = self.total
        if not n:
            return None
        observed = (self.n00 + self.n11) / n
        first1, second1 = (self.n10 + self.n11) / n, (self.n01 + self.n11) / n
        chance = first1 * second1 + (1 - first1) * (1 - second1)
        return None if chance >= 1 else (observed - chance) / (1 - chance)

    def add(self, a: int, b: int) -> "Table":
        key = f"n{a}{b}"
        return Table(**{**self.__dict__, key: getattr(self, key) + 1})


def cohen_kappa(first: list[int], second: list[int]) -> float | None:
    """Cohen's kappa of two labelers' labels on the same items, in the same order."""
    table = Table()
    for a, b in zip(first, second, strict=True):
        table = table.add(a, b)
    return table.kappa()


def krippendorff_alpha(units: list[list[int]]) -> float | None:
    """Krippendorff's alpha for nominal 0/1 labels: `units` holds each item's labels (any number of
    labelers; items with fewer than two are not pairable and left out). None when undefined."""
    coincidence = [[0.0, 0.0], [0.0, 0.0]]
    for values in units:
        m = len(values)
        if m < 2:
            continue
        ones = sum(values)
        zeros = m - ones
        coincidence[0][0] += zeros * (zeros - 1) / (m - 1)
        coincidence[1][1] += ones * (ones - 1) / (m - 1)
        coincidence[0][1] += zeros * ones / (m - 1)
        coincidence[1][0] += zeros * ones / (m - 1)
    n0, n1 = sum(coincidence[0]), sum(coincidence[1])
    n = n0 + n1
    if n <= 1 or n0 * n1 == 0:
        return None
    observed = coincidence[0][1] + coincidence[1][0]
    expected = 2 * n0 * n1 / (n - 1)
    return 1 - observed / expected


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def agreement_report(votes: Mapping[int, Mapping[str, Vote]], resolved: Mapping[int, int] | None = None, *,
                     flag_below: float = FLAG_BELOW_KAPPA, min_shared: int = MIN_SHARED) -> dict[str, Any]:
    """Every agreement figure of a concept, as /api/agreement answers them."""
    resolved = resolved or {}
    pair_tables: dict[tuple[str, str], Table] = defaultdict(Table)
    own: dict[str, Table] = defaultdict(Table)  # each labeler (first) against every other (second)
    labeled: dict[str, int] = defaultdict(int)
    units: list[list[int]] = []
    disagreements = []
    for item, by in votes.items():
        for name in by:
            labeled[name] += 1
        if len(by) < 2:
            continue
        units.append([label for label, _ in by.values()])
        for a, b in combinations(sorted(by), 2):
            la, lb = by[a][0], by[b][0]
            pair_tables[(a, b)] = pair_tables[(a, b)].add(la, lb)
            own[a] = own[a].add(la, lb)
            own[b] = own[b].add(lb, la)
        if len({label for label, _ in by.values()}) > 1 and item not in resolved:
            disagreements.append({"id": int(item), "votes": {name: by[name][0] for name in sorted(by)},
                                  "label": label_in_effect(by)})
    labelers = []
    for name in sorted(labeled):
        table = own.get(name, Table())
        kappa = table.kappa()
        flagged = table.total >= min_shared and kappa is not None and kappa < flag_below
        labelers.append({"name": name, "labels": labeled[name], "shared": table.total,
                         "agreement": _round(table.agreement()), "kappa": _round(kappa), "flagged": flagged})
    pairs = [{"labelers": [a, b], "shared": t.total, "agreement": _round(t.agreement()), "kappa": _round(t.kappa())}
             for (a, b), t in sorted(pair_tables.items())]
    return {"labelers": labelers, "pairs": pairs, "alpha": _round(krippendorff_alpha(units)),
            "overlap_items": len(units), "disagreements": sorted(disagreements, key=lambda d: d["id"]),
            "resolved": len(resolved), "flag_below_kappa": flag_below, "min_shared": min_shared}
