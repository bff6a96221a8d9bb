"""The clustering of a pool that the diverse strategies read: each item's cluster, members by closeness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Clustering:
    """Cluster of every item, and each cluster's members nearest the centre first."""

    assignment: np.ndarray  # (N,) int
    members: tuple[np.ndarray, ...]
    n_clusters: int

    @classmethod
    def from_assignment(cls, assignment: np.ndarray, closeness: np.ndarray, n_clusters: int) -> "Clustering":
        order = np.lexsort((-closeness, assignment))
        bounds = np.searchsorted(assignment[order], np.arange(n_clusters + 1))
        members = tuple(order[bounds[c]: bounds[c + 1]] for c in range(n_clusters))
        return cls(np.asarray(assignment), members, n_clusters)
