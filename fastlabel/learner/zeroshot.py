"""Zero-shot scores from a text query, and how they blend into the head while labels are few."""

from __future__ import annotations

import numpy as np

CHUNK = 65_536  # rows widened to float32 at a time


def zero_shot_probs(embeddings: np.ndarray, text: np.ndarray, logit_scale: float) -> np.ndarray:
    """CLIP similarity turned into a probability-like 0..1 score.

    Similarities are centred on the pool's mean and scaled by the model's own learned
    temperature, so the logit means "how much more like the query than a typical image".
    """
    text = np.asarray(text, dtype=np.float32)
    sims = np.concatenate([np.asarray(embeddings[i: i + CHUNK], dtype=np.float32) @ text  # float16 pools: by chunk
                           for i in range(0, len(embeddings), CHUNK)] or [np.empty(0, np.float32)])
    logits = float(logit_scale) * (sims - sims.mean())
    return (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)


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
