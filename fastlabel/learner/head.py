"""A small MLP head on frozen embeddings, trained full-batch in a few milliseconds.

Why it is fast: all labeled embeddings fit in one tensor, so a step is two small matmuls;
warm starts from the previous weights need few steps, and scoring the whole pool is a
single batched forward pass without autograd.
"""

from __future__ import annotations

import math
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class HeadConfig:
    hidden: int = 64
    steps: int = 60  # from scratch
    warm_steps: int = 25  # from the previous weights
    lr: float = 1e-2
    weight_decay: float = 1e-3
    warm_start: bool = True
    score_chunk: int = 16_384  # rows per forward pass when scoring the pool (widened to float32 chunk by chunk)
    max_rows_per_step: int = 2048  # above this, each step trains on a seeded random sample: flat cost
    train_threads: int = 1  # tiny matmuls: one thread beats two that spin-wait on a busy CPU (set once: use_threads)
    background_above: int = 20_000_000  # pools of more numbers (rows x dim) are scored off the request path


@dataclass(frozen=True)
class FitReport:
    train_ms: float
    steps: int
    loss: float
    warm: bool


class MLPHead(nn.Module):
    def __init__(self, dim: int, hidden: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        if generator is not None:
            self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        """nn.Linear's own initialisation, drawn from `generator` instead of torch's global one."""
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                bound = 1 / math.sqrt(layer.in_features)
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def balanced_weights(y: torch.Tensor) -> torch.Tensor:
    """Per-example weights that give both classes equal total weight (class imbalance)."""
    pos = y.sum()
    neg = y.numel() - pos
    w_pos = y.numel() / (2 * pos.clamp(min=1))
    w_neg = y.numel() / (2 * neg.clamp(min=1))
    return torch.where(y > 0.5, w_pos, w_neg)


def use_threads(config: HeadConfig | None = None) -> None:
    """Set torch's intra-op threads for training, once, when a labeling process has its embeddings
    (changing them per fit would race with other threads of a server)."""
    n = (config or HeadConfig()).train_threads
    if n and torch.get_num_threads() != n:
        torch.set_num_threads(n)


def warm_up(device: torch.device | None = None) -> None:
    """Pay torch's one-time start-up cost (its optimizer imports take over a second) before the first retrain."""
    head = MLPHead(8, 8).to(device or "cpu")
    opt = torch.optim.Adam(head.parameters())
    x = torch.zeros(2, 8, device=device)
    for _ in range(2):
        opt.zero_grad()
        head(x).sum().backward()
        opt.step()


def pool_array(embeddings: np.ndarray) -> np.ndarray:
    """The pool's embeddings as stored: float16 or float32 rows used in place (a memory map stays
    one), anything else as float32. Float16 halves a large pool's memory; the head widens each
    chunk it reads to float32 (benchmarks/float16.py: AUC within 0.0001 of float32)."""
    if isinstance(embeddings, np.ndarray) and embeddings.dtype in (np.float16, np.float32) \
            and embeddings.flags.c_contiguous:
        return embeddings
    return np.ascontiguousarray(embeddings, dtype=np.float32)


@torch.inference_mode()
def probs_of(model: MLPHead, x: torch.Tensor, chunk: int) -> np.ndarray:
    """P(positive) of the rows of `x` under `model`, `chunk` rows per forward pass, as float32."""
    out = [torch.sigmoid(model(x[i : i + chunk].float())) for i in range(0, x.shape[0], chunk)]
    return torch.cat(out).float().cpu().numpy() if out else np.empty(0, np.float32)


class Foreground:
    """Fits a person is waiting on (a retrain after a submit) come first: work that can wait (a review
    page's fold heads) calls `wait_idle` between its steps and pauses while any such fit runs, in any
    session of the process, so on a few cores it never slows a submit down."""

    def __init__(self) -> None:
        self._running = 0
        self._idle = threading.Condition()

    @contextmanager
    def running(self) -> Iterator[None]:
        with self._idle:
            self._running += 1
        try:
            yield
        finally:
            with self._idle:
                self._running -= 1
                if not self._running:
                    self._idle.notify_all()

    def wait_idle(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: not self._running)


FOREGROUND = Foreground()


class Learner:
    """Owns the head and the pool's embeddings; `fit` on labeled ids, `predict` for every item."""

    def __init__(self, embeddings: np.ndarray, config: HeadConfig | None = None, device: torch.device | None = None):
        self.config = config or HeadConfig()
        self.device = device or torch.device("cpu")
        self.x = torch.as_tensor(pool_array(embeddings), device=self.device)  # shared, not copied
        self.head: MLPHead | None = None

    @property
    def dim(self) -> int:
        return int(self.x.shape[1])

    def reset(self) -> None:
        self.head = None

    def fit(self, ids: np.ndarray, labels: np.ndarray, seed: int,
            between_steps: Callable[[], None] | None = None) -> FitReport:
        """Train on (ids, labels); warm-starts from the last weights when configured. Every random
        draw (initial weights, row samples) comes from a generator seeded with `seed`, so a fit
        is reproducible whatever other threads do. `between_steps` runs before each optimiser step
        (work that can wait passes FOREGROUND.wait_idle)."""
        cfg = self.config
        start = time.perf_counter()
        init = torch.Generator().manual_seed(seed)
        sample = init if self.device.type == "cpu" else torch.Generator(self.device).manual_seed(seed)
        warm = cfg.warm_start and self.head is not None
        if not warm:
            self.head = MLPHead(self.dim, cfg.hidden, init).to(self.device)
        assert self.head is not None
        x = self.x[torch.as_tensor(ids, dtype=torch.long, device=self.device)].float()
        y = torch.as_tensor(labels, dtype=torch.float32, device=self.device)
        weights = balanced_weights(y)
        opt = torch.optim.Adam(self.head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps = cfg.warm_steps if warm else cfg.steps
        self.head.train()
        loss = torch.tensor(0.0)
        rows = x.shape[0]
        for _ in range(steps):
            if between_steps is not None:
                between_steps()
            opt.zero_grad(set_to_none=True)
            if rows > cfg.max_rows_per_step:  # a seeded sample, so replays match
                pick = torch.randint(rows, (cfg.max_rows_per_step,), device=self.device, generator=sample)
                xb, yb, wb = x[pick], y[pick], weights[pick]
            else:
                xb, yb, wb = x, y, weights
            loss = nn.functional.binary_cross_entropy_with_logits(self.head(xb), yb, weight=wb)
            loss.backward()
            opt.step()
        return FitReport((time.perf_counter() - start) * 1000, steps, float(loss.detach()), warm)

    @torch.inference_mode()
    def predict(self, ids: np.ndarray | None = None) -> np.ndarray:
        """P(positive) for the given ids, or for the whole pool, as float32."""
        if self.head is None:
            raise RuntimeError("predict called before fit")
        x = self.x if ids is None else self.x[torch.as_tensor(ids, dtype=torch.long, device=self.device)]
        return self._probs(x)

    @torch.inference_mode()
    def score(self, embeddings: np.ndarray) -> np.ndarray:
        """P(positive) for rows outside the pool (e.g. a held-out test set), as float32."""
        if self.head is None:
            raise RuntimeError("score called before fit")
        x = torch.as_tensor(np.ascontiguousarray(embeddings, dtype=np.float32), device=self.device)
        return self._probs(x)

    def _probs(self, x: torch.Tensor) -> np.ndarray:
        assert self.head is not None
        self.head.eval()
        return probs_of(self.head, x, self.config.score_chunk)

    def frozen(self) -> MLPHead:
        """A copy of the head that later fits leave alone, for scoring while the next fit runs."""
        if self.head is None:
            raise RuntimeError("frozen called before fit")
        model = MLPHead(self.dim, self.config.hidden).to(self.device)
        model.load_state_dict(self.head.state_dict())
        return model.eval()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {} if self.head is None else {k: v.detach().clone() for k, v in self.head.state_dict().items()}
