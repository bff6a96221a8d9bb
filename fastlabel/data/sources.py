"""Image sources: a sprite sheet of equal tiles, or a folder of image files, behind one interface.

Every source numbers its items 0..len-1 in a stable order, hands out RGB images for the
encoder and PNG thumbnails for the grid UI, and has a fingerprint that keys caches and sessions.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image, ImageOps

from fastlabel.errors import DataError, UnknownItem

log = logging.getLogger(__name__)

THUMBNAIL_CACHE_SIZE = 4096
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"})
_HASH_CHUNK = 1 << 20
_GRID_PATTERN = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


@runtime_checkable
class ImageSource(Protocol):
    """What the rest of the app needs from a data source."""

    name: str

    def __len__(self) -> int: ...

    def image(self, item_id: int) -> Image.Image: ...

    def thumbnail(self, item_id: int) -> bytes: ...

    def fingerprint(self) -> str: ...


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


def check_item_id(item_id: object, length: int) -> int:
    """Return item_id as an int if it names an item of a source of this length, else UnknownItem."""
    if isinstance(item_id, bool) or not isinstance(item_id, (int, np.integer)):
        raise UnknownItem(f"item id must be an integer, got {item_id!r}")
    index = int(item_id)
    if not 0 <= index < length:
        raise UnknownItem(f"no item {index}: ids run from 0 to {length - 1}")
    return index


def png_bytes(image: Image.Image) -> bytes:
    """Encode an image as PNG."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks so a big sprite is not held twice in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _no_pixel_limit() -> Iterator[None]:
    """Lift Pillow's decompression-bomb guard: a big sprite sheet of the user's own is expected."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Pixel size (width, height) of an image file, read from its header only."""
    path = Path(path)
    try:
        with _no_pixel_limit(), Image.open(path) as image:
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


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert to RGB, laying any transparency over white rather than black."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


class SpriteSheet:
    """Equal square tiles laid out row by row in one image; tile i sits at (i % cols, i // cols)."""

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
            with _no_pixel_limit(), Image.open(self.path) as image:
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


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def find_image_files(root: Path) -> list[Path]:
    """Image files under root (recursive, hidden files and folders left out), as sorted relative paths."""
    found = [
        path.relative_to(root)
        for path in root.rglob("*")
        if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()
    ]
    return sorted((p for p in found if not _is_hidden(p)), key=lambda p: p.as_posix())


def unreadable_reason(path: Path) -> str | None:
    """Why Pillow cannot read this file as an image, or None when it can."""
    try:
        with _no_pixel_limit(), Image.open(path) as image:
            image.verify()
    except Exception as error:  # Pillow raises many types for corrupt files; all mean "skip it"
        return f"{type(error).__name__}: {error}"
    return None


class ImageFolder:
    """Every readable image file under a folder; ids follow the sorted relative paths."""

    def __init__(self, root: str | os.PathLike[str], thumb_size: int = 96) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"image folder {self.root} does not exist or is not a folder")
        if thumb_size < 1:
            raise DataError(f"thumbnail size must be positive, got {thumb_size}")
        self.thumb_size = thumb_size
        self.skipped: list[tuple[str, str]] = []
        self.paths: list[str] = []
        digest = hashlib.sha256(b"fastlabel-folder-v1\0")
        candidates = find_image_files(self.root)
        for relative in candidates:
            reason = unreadable_reason(self.root / relative)
            if reason is not None:
                self.skipped.append((relative.as_posix(), reason))
                continue
            stat = (self.root / relative).stat()
            self.paths.append(relative.as_posix())
            digest.update(f"{relative.as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        self._fingerprint = digest.hexdigest()
        self._report_skipped()
        if not self.paths:
            extensions = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
            if candidates:
                raise DataError(
                    f"none of the {len(candidates)} image files under {self.root} could be read"
                )
            raise DataError(f"no image files ({extensions}) found under {self.root}")
        self.name = f"{self.root.name or self.root}/ ({len(self.paths)} images)"
        self._thumbnail = lru_cache(maxsize=THUMBNAIL_CACHE_SIZE)(self._encode_thumbnail)

    def _report_skipped(self) -> None:
        if not self.skipped:
            return
        examples = "; ".join(f"{path} ({reason})" for path, reason in self.skipped[:3])
        more = f" and {len(self.skipped) - 3} more" if len(self.skipped) > 3 else ""
        log.warning(
            "skipped %d unreadable image file(s) under %s: %s%s",
            len(self.skipped),
            self.root,
            examples,
            more,
        )

    def __len__(self) -> int:
        return len(self.paths)

    def path(self, item_id: int) -> Path:
        """Absolute path of an item's file."""
        return self.root / self.paths[check_item_id(item_id, len(self.paths))]

    def image(self, item_id: int) -> Image.Image:
        path = self.path(item_id)
        try:
            with Image.open(path) as image:
                return to_rgb(ImageOps.exif_transpose(image))
        except (OSError, SyntaxError, ValueError) as error:
            raise DataError(f"cannot read {path}: {error}") from None

    def _encode_thumbnail(self, index: int) -> bytes:
        size = (self.thumb_size, self.thumb_size)
        return png_bytes(ImageOps.fit(self.image(index), size, Image.Resampling.LANCZOS))

    def thumbnail(self, item_id: int) -> bytes:
        return self._thumbnail(check_item_id(item_id, len(self.paths)))

    def fingerprint(self) -> str:
        return self._fingerprint


def load_source(
    *,
    sprite: str | os.PathLike[str] | None = None,
    grid: str | tuple[int, int] | None = None,
    tile: int = 48,
    images: str | os.PathLike[str] | None = None,
    count: int | None = None,
) -> ImageSource:
    """Open the one data source the settings name: a sprite sheet (with its grid) or an image folder."""
    if (sprite is None) == (images is None):
        raise DataError("give exactly one data source: a sprite sheet or a folder of images")
    if images is not None:
        return ImageFolder(images)
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
