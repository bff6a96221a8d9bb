"""All settings in one dataclass; the CLI and the app factory fill it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_home() -> Path:
    """Where caches and session journals live unless told otherwise."""
    return Path(os.environ.get("FASTLABEL_HOME", ".fastlabel"))


@dataclass
class Config:
    # data: a sprite sheet, a folder of images, or a folder of recordings; none means the generated demo data
    sprite: Path | None = None
    grid: str | None = None  # "COLSxROWS"
    tile: int = 48
    images: Path | None = None
    manifest: Path | None = None  # a CSV or Parquet table of image paths
    path_column: str | None = None  # its path column (default: path, file, image or filepath)
    id_column: str | None = None  # its id column (default: id, when there is one)
    hf_dataset: Path | None = None  # a Hugging Face dataset on disk (save_to_disk, Parquet files, imagefolder)
    image_column: str | None = None  # its image column (default: the first image feature)
    hf_split: str | None = None  # its split (default: train, or the first)
    audio: Path | None = None  # recordings, cut into windows of `window_s` every `hop_s` seconds
    window_s: float | None = None  # None: the encoder's input length (3 s for birdnet and logmel)
    hop_s: float | None = None  # None: the window (windows end to end)
    attributes: Path | None = None
    # embeddings
    encoder: str = "auto"  # auto | clip | imagenet | pixels | precomputed; for audio: auto | birdnet | logmel
    clip_model: str = "ViT-B-32"
    clip_pretrained: str = "laion2b_s34b_b79k"  # a tag, or a local checkpoint path
    embeddings: Path | None = None  # .npy for the precomputed encoder
    device: str = "auto"
    embed_batch_size: int = 64
    embed_input_size: int | None = None  # imagenet encoder's input side in px; None: its default
    # session
    home: Path = field(default_factory=default_home)
    session: Path | None = None  # journal file; default: <home>/sessions/<data fingerprint>.jsonl
    seed: int = 0
    concept: str | None = None  # the concept to open or create (what a positive label means, e.g. "smiling");
    # None: the one current when the server last stopped ("positive" in a new workspace)
    # labeling loop
    goal: str = "train"  # find (every positive) | train (a classifier); the page can switch it
    default_strategy: str | None = None  # the page's strategy; None: the goal's (learner/goals.py)
    batch_size: int = 48
    max_batch_size: int = 200
    # labeling as a team (fastlabel users add)
    overlap_per_page: int = 2  # cards of each page that someone else labeled already: the agreement sample
    lease_minutes: float = 10.0  # how long a served card stays its labeler's (renewed by their activity)
    flag_below_kappa: float = 0.7  # a labeler whose kappa with the others falls below this is flagged
    # server
    host: str = "127.0.0.1"
    port: int = 8008
    token: str | None = None

    @property
    def media(self) -> str:
        """What the items are: "audio" for a folder of recordings, else "image"."""
        return "audio" if self.audio is not None else "image"

    @property
    def has_data(self) -> bool:
        """Whether any data source is named (none: the generated demo faces)."""
        return any(v is not None for v in (self.sprite, self.images, self.audio, self.manifest, self.hf_dataset))

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def sessions_dir(self) -> Path:
        return self.home / "sessions"
