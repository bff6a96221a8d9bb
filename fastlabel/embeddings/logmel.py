"""`logmel`: weights-free features of a window of audio, always available (the audio `pixels`).

A window at 16 kHz becomes 64 log-mel bands every 10 ms (fastlabel.data.spectrogram.log_mel). The
features summarise its active frames (within ACTIVE_DB of the window's loudest frame, so the silence
that pads a short clip or fills a pause does not drown the sound): per band, the spectral shape
(mean level less the mean over bands), the absolute mean level, how much the level varies over
time, how fast it changes (the spread of frame-to-frame differences), and the shape in each third
of the span from the first active frame to the last (a coarse order in time). 448 numbers, scaled
to similar ranges and made unit length. Each row depends on its window only, so folders embed
incrementally.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastlabel.data.spectrogram import log_mel
from fastlabel.embeddings.base import DEFAULT_BATCH_SIZE, Progress, l2_normalise
from fastlabel.embeddings.windows import embed_windows
from fastlabel.errors import NoTextSide

SAMPLE_RATE = 16_000
WINDOW_S = 3.0
N_MELS = 64
N_FFT = 512  # 32 ms
HOP = 160  # 10 ms
FEATURE_DIM = 7 * N_MELS
ACTIVE_DB = 40.0  # frames this far below the loudest one are silence
QUIET_DB = -60.0  # the level the absolute block is centred on


def masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(B, T, M) values, (B, T) bool mask -> (B, M) mean over the masked frames (0 where none)."""
    weights = mask[..., None].astype(np.float32)
    return (values * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)


def logmel_features(windows: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(B, N) windows at `sample_rate` -> (B, 448) unit-length float32 features."""
    db = log_mel(np.atleast_2d(windows), sample_rate, n_mels=N_MELS, hop=HOP, n_fft=N_FFT)  # (B, T, M)
    frame = db.mean(axis=2)  # (B, T)
    active = frame >= frame.max(axis=1, keepdims=True) - ACTIVE_DB
    level = masked_mean(db, active)
    spread = np.sqrt(masked_mean((db - level[:, None, :]) ** 2, active))
    deltas = np.diff(db, axis=1)
    change = np.sqrt(masked_mean(deltas ** 2, active[:, 1:] & active[:, :-1]))
    # thirds of the span from the first active frame to the last
    steps = np.arange(db.shape[1])[None, :]
    first = active.argmax(axis=1)[:, None]
    last = db.shape[1] - 1 - active[:, ::-1].argmax(axis=1)[:, None]
    third = (steps - first) * 3 // (last - first + 1)  # 0, 1, 2 inside the span
    parts = [masked_mean(db, third == k) for k in range(3)]
    blocks = [level - level.mean(axis=1, keepdims=True), (level - QUIET_DB) / 3.0, spread, change * 2.0]
    blocks += [part - part.mean(axis=1, keepdims=True) for part in parts]
    return l2_normalise(np.concatenate(blocks, axis=1) / 10.0)


class LogMelEncoder:
    """Log-mel band statistics of 3 s windows at 16 kHz; no model, no download, no text side."""

    media = "audio"
    has_text = False
    logit_scale = 1.0
    incremental = True
    dim = FEATURE_DIM
    sample_rate = SAMPLE_RATE
    window_s = WINDOW_S

    def __init__(self, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        self.batch_size = batch_size
        self.id = f"logmel:{SAMPLE_RATE}hz:{N_MELS}mel:v2"

    def encode_images(self, source: Any, progress: Progress | None = None) -> np.ndarray:
        """(len(source), 448) features of every window of an audio source (the Encoder entry point;
        the source serves `window(i)` at `sample_rate`)."""
        rate = int(getattr(source, "sample_rate", SAMPLE_RATE))
        return embed_windows(source, self.batch_size, FEATURE_DIM, lambda batch: logmel_features(batch, rate), progress)

    def encode_text(self, text: str) -> np.ndarray:
        raise NoTextSide(f"The encoder {self.id} has no class or text side, so zero-shot queries are off. "
                         "Start with --encoder birdnet (pip install 'fastlabel[audio]') to query by class name.")
