"""`fastlabel embed --engine ray`: run the encoder on Ray Data and write embedding shards.

The job is a list of item ids -> `map_batches` with a stateful encoder class (each actor opens the
data source and builds the encoder once, then embeds its batches with the same batch inference as
a single process) -> shards written by the driver in the clip-retrieval layout
(fastlabel.embeddings.shards), which `serve --embeddings DIR` reads.

Ray starts a local cluster on this machine unless given the address of an existing one. On a
cluster, every node needs fastlabel installed and the data at the same path (a shared file system).
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from fastlabel.data.media import check_encoder_fits, media_of
from fastlabel.embeddings.shards import EMB_DIR, ShardSet, scan_shards, write_manifest, write_shard
from fastlabel.errors import EncoderUnavailable, InvalidInput

if TYPE_CHECKING:
    from PIL import Image

    from fastlabel.config import Config
    from fastlabel.data.sources import ImageSource

log = logging.getLogger(__name__)

DEFAULT_SHARD_ROWS = 100_000
DEFAULT_BATCH = 256
CLUSTER_CPUS_PER_ACTOR = 4


def require_ray() -> Any:
    """The ray module, or EncoderUnavailable saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise EncoderUnavailable(f"--engine ray needs Ray Data ({exc}): pip install 'fastlabel[distributed]'") from exc
    return ray


class SubsetSource:
    """Some items of a source, renumbered 0..len-1, so an encoder can embed one batch of them (images
    or windows of recordings; anything else an encoder asks, a sample rate, is the source's)."""

    def __init__(self, source: ImageSource, ids: np.ndarray) -> None:
        self.source = source
        self.ids = np.asarray(ids, dtype=np.int64)
        self.name = f"{source.name} [{len(self.ids)} items]"
        self.media = media_of(source).name

    def __len__(self) -> int:
        return int(self.ids.size)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("source", "ids"):  # not set yet (a copy being made)
            raise AttributeError(name)
        return getattr(self.source, name)

    def image(self, item_id: int) -> Image.Image:
        return self.source.image(int(self.ids[item_id]))

    def window(self, item_id: int) -> np.ndarray:
        return self.source.window(int(self.ids[item_id]))

    def thumbnail(self, item_id: int) -> bytes:
        return self.source.thumbnail(int(self.ids[item_id]))

    def fingerprint(self) -> str:
        raise TypeError("a subset is embedded, never cached")


SourceOpener = Callable[[], "ImageSource"]
"""Opens the data source; it must pickle (e.g. functools.partial(load_source, images=...)), as every actor calls it."""


def open_encoder(config: Config, device: str | None = None) -> Any:
    from fastlabel.embeddings.registry import make_encoder

    return make_encoder(config.encoder, clip_model=config.clip_model, clip_pretrained=config.clip_pretrained,
                        device=device or config.device, batch_size=config.embed_batch_size,
                        input_size=config.embed_input_size, cache_dir=config.cache_dir, media=config.media)


class BatchEncoder:
    """Ray Data's stateful `map_batches` class: one source and one encoder per actor."""

    def __init__(self, config: Config, open_source: SourceOpener, threads: int) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.source = open_source()
        self.encoder = open_encoder(config)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids = np.asarray(batch["id"], dtype=np.int64)
        return {"id": ids, "embedding": self.encoder.encode_images(SubsetSource(self.source, ids))}


def _check_encoder(config: Config, encoder: Any) -> None:
    if config.encoder in ("precomputed",) or config.embeddings is not None:
        raise InvalidInput("--engine ray computes embeddings; it takes no --embeddings input")
    if encoder.id.startswith("pixels:"):
        raise InvalidInput("the pixels encoder fits a PCA on the whole pool, so it cannot run in parallel "
                           "batches; use --encoder imagenet or clip with --engine ray")
    if ":random-" in encoder.id:
        raise InvalidInput("CLIP with random weights differs on every worker; give --clip-pretrained")


def _start(ray: Any, address: str | None) -> None:
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    if address:
        ray.init(address=address, **kwargs)
    else:  # a local cluster: workers inherit this environment (PYTHONPATH included)
        ray.init(num_cpus=max(2, os.cpu_count() or 1), **kwargs)


def _plan(ray: Any, address: str | None, actors: int | None) -> tuple[int, int, float, float]:
    """(actors, torch threads per actor, CPUs Ray reserves per actor, GPUs per actor).

    Ray's CPU counts are bookkeeping: an actor reserving every CPU would starve the tasks that feed
    it ids and deadlock, so one CPU is always left free for them.
    """
    resources = ray.cluster_resources()
    cpus, gpus = int(resources.get("CPU", 1)), int(resources.get("GPU", 0))
    if gpus:
        return actors or gpus, CLUSTER_CPUS_PER_ACTOR, 1.0, 1.0
    if not address:  # this machine: one actor using every core beats several that share them
        count = actors or 1
        return count, max(1, (os.cpu_count() or 1) // count), max(0.5, (cpus - 1) / count), 0.0
    count = actors or max(1, (cpus - 1) // CLUSTER_CPUS_PER_ACTOR)
    per_actor = max(1, (cpus - 1) // count)
    return count, per_actor, float(per_actor), 0.0


def embed_with_ray(
    config: Config,
    open_source: SourceOpener,
    out: str | Path,
    *,
    address: str | None = None,
    actors: int | None = None,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> ShardSet:
    """Embed the source's items with the config's encoder on Ray Data into shards under `out`;
    returns the checked shard set."""
    out = Path(out).expanduser()
    if (out / EMB_DIR).exists() and any((out / EMB_DIR).iterdir()):
        raise InvalidInput(f"{out} already holds embedding shards; choose an empty or new folder")
    source = open_source()
    encoder = open_encoder(replace(config, device="cpu"))  # the driver only needs its id
    _check_encoder(config, encoder)
    check_encoder_fits(encoder, source)
    ray = require_ray()
    _start(ray, address)
    n_actors, threads, actor_cpus, gpus = _plan(ray, address, actors)
    log.info("embedding %d items on Ray with %d actor(s), %d thread(s) each", len(source), n_actors, threads)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    ids = ray.data.range(len(source), override_num_blocks=max(1, min(len(source) // batch_size, 1000)))
    embedded = ids.map_batches(
        BatchEncoder, fn_constructor_kwargs={"config": config, "open_source": open_source, "threads": threads}, batch_size=batch_size,
        batch_format="numpy", concurrency=n_actors, num_cpus=actor_cpus, num_gpus=gpus,
    )
    paths = getattr(source, "paths", None)
    done = 0
    for index, batch in enumerate(embedded.iter_batches(batch_size=shard_rows, batch_format="numpy")):
        rows = np.asarray(batch["id"], dtype=np.int64)
        write_shard(out, index, np.stack(batch["embedding"]), rows, [paths[i] for i in rows] if paths else None)
        done += rows.size
        if progress is not None:
            progress(done, len(source))
    write_manifest(out, encoder_id=encoder.id, dim=int(encoder.dim), count=done, source=source.name,
                   source_fingerprint=source.fingerprint(), source_root=str(getattr(source, "root", "")))
    return scan_shards(out)
