"""Data sources behind one interface: a sprite sheet of equal tiles here, a folder of image files in
folder.py, and any source whose items are another media (media.py says what each kind decides).

Every source numbers its items 0..len-1 in a stable order, declares its items' `media`, hands out
their decoded form for the encoder (RGB images here) and PNG thumbnails for the grid UI, says which
ids it serves now, and has a fingerprint that keys caches and sessions. What every source shares
is in base.py.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from fastlabel.data.base import check_item_id, png_bytes
from fastlabel.data.decode import no_pixel_limit, to_rgb
from fastlabel.data.folder import ImageFolder
from fastlabel.data.hf_dataset import HFDatasetSource
from fastlabel.data.manifest import ManifestSource
from fastlabel.errors import DataError
from fastlabel.files import file_sha256

log = logging.getLogger(__name__)

THUMBNAIL_CACHE_SIZE = 4096
_GRID_PATTERN = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


@runtime_checkable
class ImageSource(Protocol):
    """What the rest of the app needs from a data source (an image source's items decode with `image`;
    another media's with the method its MediaKind names)."""

    name: str
    media: str  # a key of fastlabel.data.media.MEDIA

    def __len__(self) -> int: ...

    def image(self, item_id: int) -> Image.Image: ...

    def thumbnail(self, item_id: int) -> bytes: ...

    def fingerprint(self) -> str: ...

    def available(self) -> np.ndarray:
        """Bool mask over ids 0..len-1: the items that can be served now."""
        ...


def parse_grid(grid: str | tuple[int, int]) -> tuple[int, int]:
    """Turn "COLSxROWS" (or a (cols, rows) pair) into positive ints; DataError otherwise."""
    if isinstance(grid, str):
        match = _GRID_PATTERN.match(grid)
        if not match:
            raise DataError(f"grid {grid!r} is not COLSxROWS, e.g. '200x150'")
        cols, rows = int(match.group(1)), int(match.group(2))
    else:
        try:
            cols, rows = (int(v) for v in grid)
        except (TypeError, ValueError):
            raise DataError(f"grid {grid!r} is not a (cols, rows) pair") from None
    if cols < 1 or rows < 1:
        raise DataError(f"grid {cols}x{rows} needs at least one column and one row")
    return cols, rows


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Pixel size (width, height) of an image file, read from its header only."""
    path = Path(path)
    try:
        with no_pixel_limit(), Image.open(path) as image:
            return image.size
    except FileNotFoundError:
        raise DataError(f"sprite {path} does not exist") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(f"cannot read {path} as an image: {error}") from None


def infer_grid(size: tuple[int, int], tile: int) -> tuple[int, int] | None:
    """The (cols, rows) of tile-sized cells that exactly cover an image of this size, if any."""
    width, height = size
    if tile < 1 or width % tile or height % tile:
        return None
    return width // tile, height // tile


class SpriteSheet:
    """Equal square tiles laid out row by row in one image; tile i sits at (i % cols, i // cols)."""

    media = "image"

    def __init__(
        self,
        path: str | os.PathLike[str],
        grid: str | tuple[int, int],
        tile: int = 48,
        count: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.cols, self.rows = parse_grid(grid)
        if isinstance(tile, bool) or not isinstance(tile, int) or tile < 1:
            raise DataError(f"tile size must be a positive number of pixels, got {tile!r}")
        self.tile = tile
        capacity = self.cols * self.rows
        self.count = capacity if count is None else int(count)
        if not 1 <= self.count <= capacity:
            raise DataError(
                f"count {self.count} does not fit grid {self.cols}x{self.rows} "
                f"(1 to {capacity} tiles)"
            )
        self._check_size(image_size(self.path))
        self.pixels = self._load_pixels()
        key = f"fastlabel-sprite-v1\0{file_sha256(self.path)}\0{self.cols}x{self.rows}"
        self._fingerprint = hashlib.sha256(f"{key}\0{tile}\0{self.count}".encode()).hexdigest()
        used = "" if self.count == capacity else f", {self.count} used"
        self.name = f"{self.path.name} ({self.cols}x{self.rows} tiles{used})"
        self._thumbnail = lru_cache(maxsize=THUMBNAIL_CACHE_SIZE)(self._encode_tile)

    def _check_size(self, size: tuple[int, int]) -> None:
        expected = (self.cols * self.tile, self.rows * self.tile)
        if size == expected:
            return
        fitting = infer_grid(size, self.tile)
        hint = (
            f"this image fits {fitting[0]}x{fitting[1]}"
            if fitting
            else f"its size is not a whole number of {self.tile} px tiles"
        )
        raise DataError(
            f"{self.path.name} is {size[0]}x{size[1]} px but grid {self.cols}x{self.rows} "
            f"of {self.tile} px tiles needs {expected[0]}x{expected[1]} px; {hint}"
        )

    def _load_pixels(self) -> np.ndarray:
        try:
            with no_pixel_limit(), Image.open(self.path) as image:
                pixels = np.asarray(to_rgb(image), dtype=np.uint8)
        except (OSError, SyntaxError, ValueError) as error:
            raise DataError(f"cannot decode sprite {self.path}: {error}") from None
        pixels.flags.writeable = False
        return pixels

    def __len__(self) -> int:
        return self.count

    def box(self, item_id: int) -> tuple[int, int, int, int]:
        """Pixel box (left, top, right, bottom) of a tile in the sprite."""
        index = check_item_id(item_id, self.count)
        left = self.tile * (index % self.cols)
        top = self.tile * (index // self.cols)
        return left, top, left + self.tile, top + self.tile

    def tile_array(self, item_id: int) -> np.ndarray:
        """The tile's pixels as a read-only (tile, tile, 3) uint8 view of the sprite."""
        left, top, right, bottom = self.box(item_id)
        return self.pixels[top:bottom, left:right]

    def image(self, item_id: int) -> Image.Image:
        return Image.fromarray(np.ascontiguousarray(self.tile_array(item_id)))

    def _encode_tile(self, index: int) -> bytes:
        return png_bytes(self.image(index))

    def thumbnail(self, item_id: int) -> bytes:
        return self._thumbnail(check_item_id(item_id, self.count))

    def fingerprint(self) -> str:
        return self._fingerprint

    def available(self) -> np.ndarray:
        return np.ones(self.count, dtype=bool)  # a sprite is fixed: every tile, always


def open_audio_folder(root: str | os.PathLike[str], window_s: float | None, hop_s: float | None,
                      sample_rate: int | None, registry_dir: str | os.PathLike[str] | None) -> ImageSource:
    """A folder of recordings as windows; DataError when the audio libraries are not installed."""
    try:  # the audio extra's libraries (soundfile, scipy) load only when recordings are asked for
        from fastlabel.data.audio import AudioFolder
    except ImportError as exc:
        raise DataError(f"reading recordings needs the audio extra ({exc}): pip install 'fastlabel[audio]'") from None
    options = {k: v for k, v in (("window_s", window_s), ("hop_s", hop_s), ("sample_rate", sample_rate)) if v is not None}
    home = Path(registry_dir).parent if registry_dir is not None else None
    return AudioFolder(root, home_dir=home, **options)


@dataclass(frozen=True)
class TableSpec:
    """A source given as a table of items: a manifest file (CSV or Parquet), or a local Hugging Face dataset."""

    manifest: Path | None = None
    path_column: str | None = None
    id_column: str | None = None
    hf_dataset: Path | None = None
    image_column: str | None = None
    split: str | None = None
    cache_dir: Path | None = None  # where `datasets` may cache a Parquet or imagefolder layout

    @property
    def given(self) -> bool:
        return self.manifest is not None or self.hf_dataset is not None

    def open(self, registry_dir: str | os.PathLike[str] | None) -> ImageSource:
        if self.manifest is not None and self.hf_dataset is not None:
            raise DataError("give --manifest or --hf-dataset, not both")
        if self.manifest is not None:
            return ManifestSource(self.manifest, path_column=self.path_column, id_column=self.id_column,
                                  registry_dir=registry_dir)
        return HFDatasetSource(self.hf_dataset, image_column_name=self.image_column, split=self.split,  # type: ignore[arg-type]
                               registry_dir=registry_dir, cache_dir=self.cache_dir)


def load_source(
    *,
    sprite: str | os.PathLike[str] | None = None,
    grid: str | tuple[int, int] | None = None,
    tile: int = 48,
    images: str | os.PathLike[str] | None = None,
    count: int | None = None,
    registry_dir: str | os.PathLike[str] | None = None,
    audio: str | os.PathLike[str] | None = None,
    window_s: float | None = None,
    hop_s: float | None = None,
    sample_rate: int | None = None,
    table: TableSpec | None = None,
) -> ImageSource:
    """Open the one data source the settings name: a sprite sheet (with its grid), an image folder, a
    manifest or Hugging Face dataset (`table`), or a folder of recordings cut into windows of `window_s`
    every `hop_s` seconds, resampled to `sample_rate`; item ids of all but the sprite are kept under
    `registry_dir`."""
    if table is not None and table.given:
        if sprite is not None or images is not None or grid is not None or audio is not None:
            raise DataError("give exactly one data source: --manifest or --hf-dataset takes no --sprite, --grid, "
                            "--images or --audio")
        return table.open(registry_dir)
    if sum(given is not None for given in (sprite, images, audio)) != 1:
        raise DataError("give exactly one data source: a sprite sheet, a folder of images or a folder of recordings")
    if audio is not None:
        if grid is not None:
            raise DataError("--grid describes a sprite sheet; a folder of recordings (--audio) takes no grid")
        return open_audio_folder(audio, window_s, hop_s, sample_rate, registry_dir)
    if images is not None:
        if grid is not None:
            raise DataError("--grid describes a sprite sheet; a folder of images (--images) takes no grid")
        return ImageFolder(images, registry_dir=registry_dir)
    if grid is None:
        size = image_size(sprite)
        grid = infer_grid(size, tile)
        if grid is None:
            raise DataError(
                f"{Path(sprite).name} is {size[0]}x{size[1]} px, not a whole number of "
                f"{tile} px tiles; give the grid as COLSxROWS and the tile size"
            )
        log.info("no grid given; %s is %dx%d px, so reading it as %dx%d tiles of %d px",
                 Path(sprite).name, size[0], size[1], grid[0], grid[1], tile)
    return SpriteSheet(sprite, grid, tile=tile, count=count)
