"""A folder of image files as a data source, with ids that stay put as the folder changes.

The folder is walked (recursively, following links to folders once, hidden entries left out),
reconciled with its item registry (see registry.py), and every file that cannot be served is
listed with its reason: unreadable headers, failed decodes found later (thumbnail, embedding),
broken links, and duplicates (a link to a file already in the folder, or identical content),
which are served once under the lowest id.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from fastlabel.data.base import check_item_id, png_bytes
from fastlabel.data.decode import decode_image, header_problem
from fastlabel.data.registry import Changes, FoundFile, ItemRecord, ItemRegistry, registry_file
from fastlabel.errors import DataError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"})
THUMB_SIZE = 192  # twice the 96 px card, so cards stay sharp on high-DPI screens
EMBED_DECODE_SIDE = 448  # JPEGs decode at a reduced scale no smaller than this for the encoders
THUMBNAIL_CACHE_SIZE = 4096
PLACEHOLDER_GREY = (200, 200, 200)


def scan_folder(root: Path, extensions: frozenset[str] = IMAGE_EXTENSIONS,
                others: list[str] | None = None) -> tuple[list[FoundFile], list[tuple[str, str]]]:
    """Files with one of `extensions` under root as sorted relative paths with their stat, and the
    broken links found; `others`, when given, collects the relative paths of every other (non-hidden) file."""
    found: list[FoundFile] = []
    broken: list[tuple[str, str]] = []
    visited: set[str] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in visited:  # a link loop, or a second link to a folder already walked
            dirs[:] = []
            continue
        visited.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            if Path(name).suffix.lower() not in extensions:
                if others is not None:
                    others.append((Path(folder) / name).relative_to(root).as_posix())
                continue
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            try:
                stat = path.stat()
            except OSError:
                target = os.readlink(path) if path.is_symlink() else "?"
                broken.append((relative, f"broken link to {target}"))
                continue
            if not path.is_file():
                continue
            found.append(FoundFile(relative, stat.st_size, stat.st_mtime_ns))
    found.sort(key=lambda f: f.path)
    broken.sort()
    return found, broken


def log_skipped(skipped: list[tuple[str, str]], what: str, shown: int = 50) -> None:
    """Warn of the files a folder left out, each with its reason, the first `shown` of them by name."""
    if skipped:
        lines = "".join(f"\n  {path}: {reason}" for path, reason in skipped[:shown])
        more = f"\n  ... and {len(skipped) - shown} more" if len(skipped) > shown else ""
        log.warning("skipped %d %s:%s%s", len(skipped), what, lines, more)


class ImageFolder:
    """Every usable image file under a folder. `len()` is the id space (ids ever given); `available()`
    says which ids are served now."""

    media = "image"
    dedupe_content = True  # identical files are served once (a manifest lists its items on purpose)

    def __init__(self, root: str | os.PathLike[str], thumb_size: int = THUMB_SIZE,
                 registry_dir: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"image folder {self.root} does not exist or is not a folder")
        found, broken = scan_folder(self.root)
        file = registry_file(Path(registry_dir), self.root) if registry_dir is not None else None
        self._open(ItemRegistry(file, self.root), found, broken, header_problem, thumb_size)

    def _open(self, registry: ItemRegistry, found: list[FoundFile], broken: list[tuple[str, str]],
              check: Callable[[Path], str | None], thumb_size: int) -> None:
        """Reconcile the scan with the registry, save it, and say what is served and what is not."""
        if thumb_size < 1:
            raise DataError(f"thumbnail size must be positive, got {thumb_size}")
        self.thumb_size = thumb_size
        self.broken = broken
        self.registry = registry
        self.changes: Changes = self.registry.reconcile(found, check)
        try:
            if self.changes.recorded or registry.file is None or not registry.file.exists():
                self.registry.save()
        except OSError as exc:  # a read-only home: this start works, the next one re-hashes the folder
            log.warning("could not save the item registry %s (%s)", registry.file, exc)
        self._lock = threading.Lock()
        self._paths: list[str] | None = None
        self._refresh()
        if not self.available().any():
            if found or self.broken:
                lines = "; ".join(f"{p} ({why})" for p, why in self.skipped)
                raise DataError(f"none of the {len(found) + len(self.broken)} images of {self.where} "
                                f"could be read: {lines}")
            raise DataError(self.empty_message())
        self._thumbnail = lru_cache(maxsize=THUMBNAIL_CACHE_SIZE)(self._encode_thumbnail)
        self.report()

    @property
    def where(self) -> str:
        """The source, as the log and errors name it."""
        return str(self.root)

    def empty_message(self) -> str:
        extensions = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
        return f"no image files ({extensions}) found under {self.root}"

    # -- what is served, and what is not --------------------------------------------------------
    def _refresh(self) -> None:
        """Recompute the served mask, the duplicates and the skipped list from the records."""
        records = self.registry.by_id
        mask = np.zeros(len(records), dtype=bool)
        first_of: dict[str, ItemRecord] = {}
        duplicates: list[tuple[str, str]] = []
        for record in records:
            if not record.present or record.problem is not None:
                continue
            original = first_of.setdefault(record.sha256, record) if self.dedupe_content else record
            if original is record:
                mask[record.id] = True
            else:
                duplicates.append((record.name, f"same image as {original.name}; shown once"))
        problems = [(r.name, r.problem) for r in records if r.present and r.problem is not None]
        if getattr(self, "_available", None) is None:
            self._available = mask
        else:  # in place: whoever holds the mask (a session's pool) sees the change
            self._available[:] = mask
        self.skipped: list[tuple[str, str]] = sorted(problems + self.broken + duplicates)  # type: ignore[operator]

    def available(self) -> np.ndarray:
        """Bool mask over ids: present, readable and not a duplicate. A live view: a file found
        unreadable later (thumbnail, embedding) is cleared in this same array."""
        return self._available

    @property
    def name(self) -> str:
        return f"{self.root.name or self.root}/ ({int(self._available.sum())} images)"

    def report(self) -> None:
        """Log what changed since the last start and every file left out, with its reason."""
        served = int(self._available.sum())
        if len(self.registry) == len(self.changes.new):
            log.info("%s: %d images found, %d served", self.where, len(self.registry), served)
        else:
            log.info("%s: %s since the last start; %d images served", self.where, self.changes.summary(), served)
        log_skipped(self.skipped, f"image(s) of {self.where}")

    def mark_unreadable(self, item_id: int, reason: str) -> None:
        """A decode failed after the check: stop serving this content (until it changes) and list it."""
        with self._lock:
            record = self.registry.by_id[item_id]
            if record.problem is not None:
                return
            record.problem = reason
            log.warning("skipping %s: %s", record.name, reason)
            try:
                self.registry.save()
            except OSError as exc:
                log.warning("could not save the item registry (%s)", exc)
            self._refresh()

    # -- the ImageSource interface --------------------------------------------------------------
    @property
    def paths(self) -> list[str]:
        """Relative path of every id (absent files included: their labels keep a name). Made once per
        start (paths change only when the folder is reconciled), so a loop over items stays linear."""
        if self._paths is None or len(self._paths) != len(self.registry.by_id):
            self._paths = [r.path for r in self.registry.by_id]
        return self._paths

    def __len__(self) -> int:
        return len(self.registry)

    def record(self, item_id: int) -> ItemRecord:
        return self.registry.by_id[check_item_id(item_id, len(self.registry))]

    def path(self, item_id: int) -> Path:
        """Absolute path of an item's file."""
        return self.root / self.record(item_id).path

    def content_hash(self, item_id: int) -> str:
        return self.record(item_id).sha256

    def decode(self, record: ItemRecord, max_side: int | None) -> Image.Image:
        """The item's pixels (DataError when they cannot be read): its file, decoded once."""
        return decode_image(self.root / record.path, max_side=max_side)

    def image(self, item_id: int) -> Image.Image:
        record = self.record(item_id)
        if not record.present:
            raise DataError(f"{record.name} is no longer in {self.where}")
        return self.decode(record, EMBED_DECODE_SIDE)

    def _encode_thumbnail(self, index: int) -> bytes:
        try:
            image = self.decode(self.record(index), self.thumb_size)
        except DataError as exc:
            self.mark_unreadable(index, str(exc))
            return png_bytes(Image.new("RGB", (self.thumb_size, self.thumb_size), PLACEHOLDER_GREY))
        # the whole image, letterboxed by the card: nothing cropped away
        return png_bytes(ImageOps.contain(image, (self.thumb_size, self.thumb_size), Image.Resampling.LANCZOS))

    def thumbnail(self, item_id: int) -> bytes:
        return self._thumbnail(check_item_id(item_id, len(self.registry)))

    def fingerprint(self) -> str:
        """The folder's identity (not its content): ids keep their meaning as files come and go."""
        return f"folder:{self.registry.folder_id}"
