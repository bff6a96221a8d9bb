"""Zero-shot scores from a query (a text, or a class of the encoder's own classifier), and how they
blend into the head while labels are few."""

from __future__ import annotations

import numpy as np

CHUNK = 65_536  # rows widened to float32 at a time


def _dot(embeddings: np.ndarray, vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    return np.concatenate([np.asarray(embeddings[i: i + CHUNK], dtype=np.float32) @ vector  # float16 pools: by chunk
                           for i in range(0, len(embeddings), CHUNK)] or [np.empty(0, np.float32)])


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)


def zero_shot_probs(embeddings: np.ndarray, text: np.ndarray, logit_scale: float) -> np.ndarray:
    """CLIP similarity turned into a probability-like 0..1 score.

    Similarities are centred on the pool's mean and scaled by the model's own learned
    temperature, so the logit means "how much more like the query than a typical image".
    """
    sims = _dot(embeddings, text)
    return _sigmoid(float(logit_scale) * (sims - sims.mean()))


def class_probs(embeddings: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    """A classifier's own score for one class: sigmoid(x . weights + bias), not centred on the pool, so
    "verify positives" sees the classifier's real confidence before any label."""
    return _sigmoid(_dot(embeddings, weights) + np.float32(bias))


def query_probs(embeddings: np.ndarray, query_type: str, vector: np.ndarray, logit_scale: float, bias: float) -> np.ndarray:
    """The prior a query gives: a class's score ("class"), or the centred text similarity ("text")."""
    if query_type == "class":
        return class_probs(embeddings, vector, bias)
    return zero_shot_probs(embeddings, vector, logit_scale)


def prior_weight(n_labeled: int, strength: float = 24.0) -> float:
    """Weight of the text prior against the head: 1 with no labels, half at `strength` labels."""
    return strength / (strength + n_labeled)


def blend(prior: np.ndarray | None, head: np.ndarray | None, n_labeled: int, n_items: int) -> np.ndarray:
    """The probabilities shown: head and prior mixed, either alone, or 0.5 with neither."""
    if head is None and prior is None:
        return np.full(n_items, 0.5, dtype=np.float32)
    if prior is None:
        return head  # type: ignore[return-value]
    if head is None:
        return prior
    w = prior_weight(n_labeled)
    return (w * prior + (1 - w) * head).astype(np.float32)
