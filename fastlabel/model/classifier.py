"""`Classifier`: a saved model, loaded without pickles, that scores images, image files or embeddings.

    clf = Classifier.load("smiling.safetensors")
    clf.predict_proba(["a.jpg", "b.jpg"])   # or PIL images, or an (N, D) embedding array
    clf.predict(images)                     # 0/1 at the model's threshold

A model trained on recordings takes recordings: audio file paths or (samples, sample_rate) pairs, each
cut into windows as the training pool was (the model's window and hop, resampled to its encoder's
rate); `predict_proba` then gives one array per recording, P(positive) per window.

P(positive) is exactly what the session showed for that model: the head's sigmoid, blended
with the zero-shot text prior when a query was set, `w * prior + (1 - w) * head`, with the
prior centred on the training pool's mean similarity (`prior.center`) and `w` the weight
the session gave it at that many labels. See README "The model file".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from ..data.decode import decode_image, to_rgb
from ..data.media import encoder_media
from ..embeddings.base import Encoder, Progress
from ..errors import DataError, InvalidInput
from ..learner.head import MLPHead
from .artifact import HEAD_KEYS, PRIOR_KEY, read_artifact
from .encoders import rebuild_encoder

@dataclass(frozen=True)
class Prior:
    """The zero-shot text prior as the session blended it."""

    text: np.ndarray  # (D,) unit text embedding
    logit_scale: float
    center: float  # mean similarity over the training pool
    weight: float  # w in w * prior + (1 - w) * head

    def probs(self, x: np.ndarray) -> np.ndarray:
        sims = x @ self.text
        logits = self.logit_scale * (sims - np.float32(self.center))
        return (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)


def head_from_tensors(tensors: dict[str, np.ndarray]) -> MLPHead:
    w0 = tensors[HEAD_KEYS[0]]
    head = MLPHead(int(w0.shape[1]), int(w0.shape[0]))
    head.load_state_dict({k.removeprefix("head."): torch.from_numpy(np.array(tensors[k])) for k in HEAD_KEYS})
    return head.eval()


class ImageList:
    """PIL images or image files as an image source, for the encoders' batching."""

    def __init__(self, items: Sequence[Image.Image | str | Path]) -> None:
        self.items = list(items)
        self.name = f"{len(self.items)} images"

    def __len__(self) -> int:
        return len(self.items)

    def image(self, item_id: int) -> Image.Image:
        item = self.items[item_id]
        if isinstance(item, Image.Image):
            return to_rgb(item)
        try:
            return decode_image(item)  # the app's own decode: EXIF, modes, 16-bit scaling
        except DataError as exc:
            raise DataError(f"cannot read {item} as an image: {exc}") from None


class WindowList:
    """Windows of audio (already cut, at the encoder's rate) as a source for an audio encoder."""

    media = "audio"

    def __init__(self, windows: np.ndarray, sample_rate: int) -> None:
        self.windows = windows
        self.sample_rate = sample_rate
        self.name = f"{len(windows)} windows"

    def __len__(self) -> int:
        return len(self.windows)

    def window(self, item_id: int) -> np.ndarray:
        return self.windows[item_id]


def is_recording(item: Any) -> bool:
    """An audio file path, or a (samples, sample_rate) pair."""
    if isinstance(item, tuple):
        return len(item) == 2 and isinstance(item[1], (int, np.integer)) and not isinstance(item[1], bool)
    if not isinstance(item, (str, Path)):
        return False
    try:
        from ..data.audio import AUDIO_EXTENSIONS  # the audio extra
    except ImportError:
        return False
    return Path(item).suffix.lower() in AUDIO_EXTENSIONS


def read_recording(path: Path) -> tuple[np.ndarray, int]:
    """A whole audio file as (samples, rate); DataError when libsndfile cannot read it."""
    import soundfile

    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as exc:
        raise DataError(f"cannot read {path} as a recording: {exc}") from None
    return samples, int(rate)


class Classifier:
    """A FastLabel model: head (+ text prior) on the embeddings of the encoder it was trained with."""

    def __init__(self, head: MLPHead, metadata: dict[str, Any], prior: Prior | None = None, *,
                 clip_checkpoint: str | Path | None = None, device: str | None = None,
                 encoder: Encoder | None = None, cache_dir: str | Path | None = None) -> None:
        self.head = head
        self.metadata = metadata
        self.prior = prior
        self.dim = int(metadata["encoder"]["embedding_dim"])
        self.threshold = float(metadata["threshold"])
        self._clip_checkpoint = clip_checkpoint
        self._device = device
        self._cache_dir = cache_dir  # where the rebuilt encoder keeps what it compiles (an ONNX graph)
        self._encoder = encoder  # None: rebuilt from the metadata on first use

    @classmethod
    def load(cls, path: str | Path, *, clip_checkpoint: str | Path | None = None,
             device: str | None = None, cache_dir: str | Path | None = None) -> "Classifier":
        """Read a model file (never unpickling); the encoder is rebuilt on the first image input."""
        tensors, meta = read_artifact(Path(path))
        prior = None
        if meta.get("prior") is not None:
            p = meta["prior"]
            prior = Prior(np.asarray(tensors[PRIOR_KEY], np.float32), float(p["logit_scale"]), float(p["center"]),
                          float(p["weight"]))
        return cls(head_from_tensors(tensors), meta, prior, clip_checkpoint=clip_checkpoint, device=device,
                   cache_dir=cache_dir)

    @property
    def concept(self) -> str:
        return str(self.metadata["concept"])

    @property
    def encoder(self) -> Encoder:
        """The model's own encoder, rebuilt from the metadata (EncoderUnavailable says why not)."""
        if self._encoder is None:
            self._encoder = rebuild_encoder(self.metadata["encoder"], clip_checkpoint=self._clip_checkpoint,
                                            device=self._device, cache_dir=self._cache_dir)
        return self._encoder

    def embed(self, images: Sequence[Image.Image | str | Path], progress: Progress | None = None) -> np.ndarray:
        """(N, D) embeddings of the images with the model's own encoder (no cache: see classify for that)."""
        return self.encoder.encode_images(ImageList(images), progress)  # type: ignore[arg-type]

    def recording_windows(self, item: Any) -> np.ndarray:
        """(n_windows, samples) of one recording, cut as the model's training windows were."""
        from ..data.audio import Windowing, window_array

        encoder = self.encoder
        cut = self.metadata.get("media") or {}
        window = float(cut.get("window_s") or encoder.window_s)  # type: ignore[attr-defined]
        windowing = Windowing(window, float(cut.get("hop_s") or window), int(encoder.sample_rate))  # type: ignore[attr-defined]
        signal, rate = item if isinstance(item, tuple) else read_recording(Path(item))
        return window_array(np.asarray(signal, dtype=np.float32), int(rate), windowing)

    def embed_recordings(self, items: Sequence[Any], progress: Progress | None = None) -> list[np.ndarray]:
        """Per recording, the (n_windows, D) embeddings of its windows with the model's own encoder."""
        cuts = [self.recording_windows(item) for item in items]
        rows = self.encoder.encode_images(WindowList(np.concatenate(cuts), self.encoder.sample_rate),  # type: ignore[arg-type, attr-defined]
                                          progress)
        return np.split(np.asarray(rows), np.cumsum([len(c) for c in cuts])[:-1])

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        """P(positive) for (N, D) embeddings of the model's encoder."""
        x = np.asarray(embeddings, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise InvalidInput(f"this model takes (N, {self.dim}) embeddings from {self.metadata['encoder']['id']}; "
                               f"got shape {x.shape}. Embed the images with the model's own encoder "
                               "(pass images or file paths instead).")
        with torch.inference_mode():
            head = torch.sigmoid(self.head(torch.from_numpy(np.ascontiguousarray(x)))).float().numpy()
        if self.prior is None:
            return head
        w = self.prior.weight
        return (w * self.prior.probs(x) + (1 - w) * head).astype(np.float32)

    def predict_proba(self, x: Any, progress: Progress | None = None) -> Any:
        """P(positive), one per input: PIL images, image file paths, or an (N, D) embedding array; for a
        model of recordings, audio paths or (samples, rate) pairs: one array per recording, a value per window."""
        if isinstance(x, np.ndarray) or isinstance(x, torch.Tensor):
            return self.scores(np.asarray(x))
        if isinstance(x, (str, Path, Image.Image)) or is_recording(x):
            raise InvalidInput("pass a list of images, recordings or paths (or an (N, D) array), not a single one")
        items = list(x)
        if not items:
            return np.empty(0, np.float32)
        if all(is_recording(i) for i in items):
            if encoder_media(self.encoder) != "audio":
                raise InvalidInput(f"this model takes images ({self.metadata['encoder']['id']}), not recordings")
            return [self.scores(rows) for rows in self.embed_recordings(items, progress)]
        if all(isinstance(i, (Image.Image, str, Path)) for i in items):
            return self.scores(self.embed(items, progress))
        return self.scores(np.asarray(items, dtype=np.float32))

    def predict(self, x: Any, threshold: float | None = None) -> np.ndarray:
        """0/1 labels at the model's threshold (or `threshold`)."""
        t = self.threshold if threshold is None else float(threshold)
        probs = self.predict_proba(x)
        if isinstance(probs, list):  # recordings: per window
            return [(p >= t).astype(np.int64) for p in probs]
        return (probs >= t).astype(np.int64)

    def __repr__(self) -> str:
        t = self.metadata.get("training", {})
        return (f"Classifier(concept={self.concept!r}, encoder={self.metadata['encoder']['id']!r}, "
                f"labels={t.get('labels')}, positives={t.get('positives')})")
