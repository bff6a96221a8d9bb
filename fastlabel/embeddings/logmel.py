"""`logmel`: weights-free features of a window of audio, always available (the audio `pixels`).

A window at 16 kHz becomes 64 log-mel bands every 10 ms (fastlabel.data.spectrogram.log_mel), and
the features are fixed summaries of them: per band, the spectral shape (mean level less the
window's mean level), the absolute mean level, how much the level varies over time, and how fast it
changes (the spread of frame-to-frame differences). 256 numbers, scaled to similar ranges and made
unit length. Each row depends on its window only, so folders embed incrementally.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastlabel.data.spectrogram import log_mel
from fastlabel.embeddings.base import DEFAULT_BATCH_SIZE, Progress, l2_normalise
from fastlabel.errors import NoTextSide
from fastlabel.embeddings.windows import window_batches

SAMPLE_RATE = 16_000
WINDOW_S = 3.0
N_MELS = 64
N_FFT = 512  # 32 ms
HOP = 160  # 10 ms
FEATURE_DIM = 4 * N_MELS
QUIET_DB = -60.0  # the level the absolute block is centred on


def logmel_features(windows: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(B, N) windows at `sample_rate` -> (B, 256) unit-length float32 features."""
    db = log_mel(np.atleast_2d(windows), sample_rate, n_mels=N_MELS, hop=HOP, n_fft=N_FFT)  # (B, T, M)
    level = db.mean(axis=1)  # (B, M)
    shape = level - level.mean(axis=1, keepdims=True)
    spread = db.std(axis=1)
    deltas = np.diff(db, axis=1) if db.shape[1] > 1 else np.zeros_like(db)
    change = deltas.std(axis=1)
    features = np.concatenate([shape / 10.0, (level - QUIET_DB) / 30.0, spread / 10.0, change / 5.0], axis=1)
    return l2_normalise(features)


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
        self.id = f"logmel:{SAMPLE_RATE}hz:{N_MELS}mel:v1"

    def encode_images(self, source: Any, progress: Progress | None = None) -> np.ndarray:
        """(len(source), 256) features of every window of an audio source (the Encoder entry point;
        the source serves `window(i)` at `sample_rate`)."""
        rate = int(getattr(source, "sample_rate", SAMPLE_RATE))
        out = np.empty((len(source), FEATURE_DIM), dtype=np.float32)
        for start, stop, batch in window_batches(source, self.batch_size):
            out[start:stop] = logmel_features(batch, rate)
            if progress is not None:
                progress(stop, len(source))
        return out

    def encode_text(self, text: str) -> np.ndarray:
        raise NoTextSide(f"The encoder {self.id} has no class or text side, so zero-shot queries are off. "
                         "Start with --encoder birdnet (pip install 'fastlabel[audio]') to query by class name.")
