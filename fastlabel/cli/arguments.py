"""Flags shared by several commands, and how they become a Config."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from ..config import Config, default_home
from ..errors import DataError
from ..events import Event, SessionStarted
from ..provenance import Recording, recorded_settings


def add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data (none given: generated demo faces)")
    g.add_argument("--sprite", type=Path, help="sprite sheet image (tiles in rows)")
    g.add_argument("--grid", help="sprite grid as COLSxROWS, e.g. 200x150")
    g.add_argument("--tile", type=int, default=None, help="sprite tile size in px (default 48)")
    g.add_argument("--images", type=Path, help="a folder of images (searched recursively)")
    g.add_argument("--audio", type=Path, help="a folder of recordings (searched recursively; wav, flac, ogg, mp3), "
                   "labeled in windows")
    g.add_argument("--window", type=float, default=None, metavar="SECONDS",
                   help="with --audio: window length in seconds (default: the encoder's input, 3 s)")
    g.add_argument("--hop", type=float, default=None, metavar="SECONDS",
                   help="with --audio: seconds from one window's start to the next (default: the window)")
    g.add_argument("--manifest", type=Path, help="a CSV or Parquet table of image paths (relative to its folder)")
    g.add_argument("--path-column", help="the manifest's path column (default: path, file, image or filepath)")
    g.add_argument("--id-column", help="the manifest's id column, naming items for good (default: id, if present)")
    g.add_argument("--hf-dataset", type=Path,
                   help="a Hugging Face dataset on disk: save_to_disk folder, Parquet files or imagefolder (offline)")
    g.add_argument("--image-column", help="the dataset's image column (default: its first image feature)")
    g.add_argument("--split", dest="hf_split", help="the dataset's split (default: train, or its first)")
    g.add_argument("--attributes", type=Path, help="CSV of 0/1 ground-truth columns (benchmarks only)")
    e = p.add_argument_group("embeddings")
    e.add_argument("--encoder", help="images: auto | clip | imagenet | pixels | precomputed; "
                   f"audio: auto | birdnet | logmel | precomputed (default {Config.encoder})")
    e.add_argument("--clip-model", help=f"open_clip model name or a model config JSON (default {Config.clip_model})")
    e.add_argument("--clip-pretrained",
                   help="open_clip pretrained tag, a local checkpoint path, or 'none' for random weights "
                        f"(default {Config.clip_pretrained})")
    e.add_argument("--embeddings", type=Path,
                   help=".npy of precomputed embeddings (N x D, row i = item i), or a folder of embedding shards "
                        "(from `embed --engine ray` or clip-retrieval)")
    e.add_argument("--input-size", type=int, default=None, help="imagenet encoder's input side in px (default 224)")
    e.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    p.add_argument("--home", type=Path, default=None, help="cache and sessions folder (default .fastlabel)")
    p.add_argument("--seed", type=int, default=0)


def add_ray_args(p: argparse.ArgumentParser, what: str, out: str) -> None:
    """The Ray engine's flags, shared by `embed` and `classify`: `what` the actors hold, `out` what a shard holds."""
    r = p.add_argument_group("distributed (pip install 'fastlabel[distributed]')")
    r.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process; ray: Ray Data actors, writing shards to --out DIR")
    r.add_argument("--ray-address", help="an existing Ray cluster (default: start one on this machine)")
    r.add_argument("--ray-actors", type=int, help=f"{what} actors (default: 1 here, one per 4 CPUs or per GPU on a cluster)")
    r.add_argument("--shard-rows", type=int, default=100_000, help=f"{out} per shard (default 100000)")


def add_simulation_args(p, *, seeds: int | None) -> None:
    """Flags shared by `bench` and `replay --against`: what the simulated labeler answers from."""
    p.add_argument("--attribute", action="append",
                   help="attribute column to label (repeat, or comma-separate, for several)")
    p.add_argument("--identities", type=Path, help="image_id,identity CSV: the test split holds out whole people")
    p.add_argument("--seeds", type=int, default=seeds,
                   help=f"runs per strategy, seeds 0..N-1 (default {seeds or '5, or the suite’s'})")
    p.add_argument("--test-fraction", type=float, default=0.2, help="held-out share (default 0.2)")


def check_data_args(args: argparse.Namespace) -> None:
    """Refuse flags that contradict each other, and a folder that is not there, before anything starts."""
    tables = [flag for flag, value in (("--manifest", getattr(args, "manifest", None)),
                                        ("--hf-dataset", getattr(args, "hf_dataset", None))) if value is not None]
    if tables:
        others = [f for f, v in (("--sprite", args.sprite), ("--images", args.images), ("--grid", args.grid),
                                 ("--audio", getattr(args, "audio", None))) if v is not None]
        if len(tables) > 1 or others:
            raise DataError(f"give one data source, not {' and '.join(tables + others)}")
        return
    audio = getattr(args, "audio", None)
    sources = [flag for flag, value in (("--sprite", args.sprite), ("--images", args.images), ("--audio", audio))
               if value is not None]
    if len(sources) > 1:
        raise DataError(f"give {' or '.join(sources)}, not both" if len(sources) == 2
                        else f"give one of {', '.join(sources)}, not all three")
    timing = [flag for flag, value in (("--window", getattr(args, "window", None)), ("--hop", getattr(args, "hop", None)))
              if value is not None]
    if timing and audio is None:
        raise DataError(f"{' and '.join(timing)} cut recordings into windows; give the folder with --audio DIR")
    for flag in timing:
        if not getattr(args, flag.lstrip("-")) > 0:
            raise DataError(f"{flag} must be a positive number of seconds")
    folder, what = (args.images, "image") if args.images is not None else (audio, "recordings")
    if folder is None:
        return
    given = [flag for flag, value in (("--grid", args.grid), ("--tile", args.tile)) if value is not None]
    if given:
        raise DataError(f"{' and '.join(given)} describe a sprite sheet; a folder ({sources[0]}) takes neither")
    if not folder.is_dir():
        raise DataError(f"{what} folder {folder} does not exist or is not a folder")


def data_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The data flags as Config fields, None where not given (absent on commands without them)."""
    fields = {"sprite": "sprite", "grid": "grid", "tile": "tile", "images": "images", "audio": "audio",
              "window_s": "window", "hop_s": "hop", "manifest": "manifest", "path_column": "path_column",
              "id_column": "id_column", "hf_dataset": "hf_dataset", "image_column": "image_column",
              "hf_split": "hf_split"}
    return {field: getattr(args, name, None) for field, name in fields.items()}


def encoder_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The encoder flags as Config fields, None where not given."""
    return {"encoder": args.encoder, "clip_model": args.clip_model, "clip_pretrained": args.clip_pretrained,
            "embeddings": args.embeddings, "embed_input_size": getattr(args, "input_size", None)}


def config_from_args(args: argparse.Namespace, recorded: SessionStarted | None = None, **extra) -> Config:
    """The Config the flags give; with the `recorded` start of a journal, what they leave out comes from it."""
    check_data_args(args)
    given = {**data_flags(args), **encoder_flags(args)}
    settings = recorded_settings(recorded, given) if recorded is not None else given
    settings = {k: v for k, v in settings.items() if v is not None}
    if str(settings.get("clip_pretrained", "")).lower() == "none":
        settings["clip_pretrained"] = None  # random weights
    return Config(**settings, attributes=args.attributes, device=args.device, home=args.home or default_home(),
                  seed=args.seed, **extra)


def journal_config(args: argparse.Namespace, events: Sequence[Event]) -> tuple[Config, Recording | None]:
    """The Config for a command on a session journal: its recorded data and encoder unless flags give
    them, and the Recording that checks the pool opened is the one it was recorded on."""
    started = next((e for e in events if isinstance(e, SessionStarted)), None)
    if started is None:
        return config_from_args(args), None
    recording = Recording(started, data_from_flags=any(v is not None for v in data_flags(args).values()),
                          encoder_from_flags=any(v is not None for v in encoder_flags(args).values()))
    return config_from_args(args, started), recording


def tqdm_progress():
    """A progress callback (stage, done, total) drawing one tqdm bar per stage."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def report(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="img" if stage == "embedding" else "it")
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return report
