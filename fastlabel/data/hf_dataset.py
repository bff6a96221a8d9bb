"""A Hugging Face dataset on local disk as a data source: one saved with `datasets`' `save_to_disk`,
a folder of Parquet files, or an imagefolder layout. Read offline only; needs `datasets` (extra [data]).

One row is one item; its image is the image column (a `datasets.Image` feature, found by itself or
named with --image-column), read from the dataset's own storage without decoding until needed.
Items are known by the image's file name where every row has a distinct one (ids then survive
reordering), else by row number; the other scalar columns are kept as the item's metadata.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from PIL import Image

from fastlabel.data.decode import decode_image, header_problem
from fastlabel.data.folder import THUMB_SIZE, ImageFolder
from fastlabel.data.registry import FoundFile, ItemRecord, ItemRegistry, registry_file
from fastlabel.errors import DataError

IMAGE_COLUMNS = ("image", "img", "picture", "photo")


def require_datasets() -> Any:
    """The datasets module, offline (the user's own setting wins), or DataError saying how to install it."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    try:
        import datasets
    except ImportError as exc:
        raise DataError(f"--hf-dataset needs the datasets library ({exc}): pip install 'fastlabel[data]'") from None
    return datasets


def load_local_dataset(folder: Path, split: str | None = None, cache_dir: Path | None = None) -> Any:
    """The one split of a dataset saved on disk (save_to_disk), a folder of Parquet files or an imagefolder."""
    datasets = require_datasets()
    if not folder.is_dir():
        raise DataError(f"--hf-dataset {folder} is not a folder")
    try:
        if (folder / "dataset_info.json").is_file() or (folder / "dataset_dict.json").is_file():
            loaded = datasets.load_from_disk(str(folder))
        elif parquet := sorted(str(p) for p in folder.rglob("*.parquet")):
            loaded = datasets.load_dataset("parquet", data_files=parquet, cache_dir=cache_dir and str(cache_dir))
        else:
            loaded = datasets.load_dataset("imagefolder", data_dir=str(folder), cache_dir=cache_dir and str(cache_dir))
    except DataError:
        raise
    except Exception as exc:  # datasets raises many types for a folder it cannot read
        raise DataError(f"cannot read {folder} as a Hugging Face dataset: {exc}") from None
    if isinstance(loaded, datasets.DatasetDict):
        names = list(loaded)
        if split is None:
            split = "train" if "train" in loaded else names[0]
        if split not in loaded:
            raise DataError(f"the dataset has no split {split!r}; its splits: {', '.join(names)}")
        loaded = loaded[split]
    elif split is not None and str(loaded.split) != split:
        raise DataError(f"the dataset in {folder} is one split ({loaded.split}), not {split!r}")
    return loaded


def image_column(dataset: Any, given: str | None) -> str:
    """The column holding the images: `given`, else the first `datasets.Image` feature, else a usual name."""
    datasets = require_datasets()
    columns = list(dataset.column_names)
    if given is not None:
        if given not in columns:
            raise DataError(f"the dataset has no column {given!r}; its columns: {', '.join(columns)}")
        return given
    typed = [c for c, f in dataset.features.items() if isinstance(f, datasets.Image)]
    found = typed[0] if typed else next((c for c in columns if c.lower() in IMAGE_COLUMNS), None)
    if found is None:
        raise DataError(f"no image column in the dataset (columns: {', '.join(columns)}); name it with --image-column")
    return found


def stored_image(cell: Any) -> tuple[bytes | None, str | None]:
    """(encoded bytes, file path) of an image cell read without decoding."""
    if isinstance(cell, dict):
        return cell.get("bytes"), cell.get("path")
    if isinstance(cell, (bytes, bytearray)):
        return bytes(cell), None
    if isinstance(cell, str):
        return None, cell
    return None, None


class HFDatasetSource(ImageFolder):
    """The rows of a local Hugging Face dataset split, with ids kept under `registry_dir`."""

    dedupe_content = False

    def __init__(self, folder: str | os.PathLike[str], *, image_column_name: str | None = None,
                 split: str | None = None, registry_dir: str | os.PathLike[str] | None = None,
                 cache_dir: str | os.PathLike[str] | None = None, thumb_size: int = THUMB_SIZE) -> None:
        datasets = require_datasets()
        self.root = Path(folder).resolve()
        dataset = load_local_dataset(self.root, split, Path(cache_dir) if cache_dir else None)
        self.column = image_column(dataset, image_column_name)
        if isinstance(dataset.features[self.column], datasets.Image):
            dataset = dataset.cast_column(self.column, datasets.Image(decode=False))
        self.dataset = dataset
        self.split = str(dataset.split) if dataset.split is not None else None
        scalar = (datasets.Value, datasets.ClassLabel)
        self.metadata_columns = [c for c, f in dataset.features.items() if c != self.column and isinstance(f, scalar)]
        found, broken, problems, rows = self._scan()
        self._row_of = rows
        identity = self.root / f"{self.split or ''}:{self.column}"
        file = registry_file(Path(registry_dir), identity) if registry_dir is not None else None
        self._open(ItemRegistry(file, self.root, identity=identity), found, broken,
                   lambda path: problems.get(path.relative_to(self.root).as_posix()), thumb_size)

    def _scan(self) -> tuple[list[FoundFile], list[tuple[str, str]], dict[str, str | None], dict[str, int]]:
        cells = self.dataset[self.column]
        stored = [stored_image(cell) for cell in cells]
        names = [Path(path).name if path else None for _, path in stored]
        by_name = all(names) and len(set(names)) == len(names)
        found: list[FoundFile] = []
        broken: list[tuple[str, str]] = []
        problems: dict[str, str | None] = {}
        rows: dict[str, int] = {}
        for row, (data, path) in enumerate(stored):
            name = names[row] if by_name else f"row {row}"
            if data is None and path:
                try:
                    data = Path(path).read_bytes()
                except OSError as exc:
                    broken.append((name, f"{path}: {exc.strerror or exc}"))
                    continue
            if not data:
                broken.append((name, "no image in this row"))
                continue
            rows[name] = row
            problems[name] = header_problem(data)
            found.append(FoundFile(name, len(data), 0, sha256=hashlib.sha256(data).hexdigest()))
        return found, broken, problems, rows

    def _bytes(self, record: ItemRecord) -> bytes:
        row = self._row_of.get(record.path)
        if row is None:
            raise DataError(f"{record.name} is no longer in the dataset")
        data, path = stored_image(self.dataset[row][self.column])
        if data is None and path:
            data = Path(path).read_bytes()
        return data or b""

    def decode(self, record: ItemRecord, max_side: int | None) -> Image.Image:
        return decode_image(self._bytes(record), max_side=max_side)

    def metadata(self, item_id: int) -> dict[str, str]:
        row = self._row_of.get(self.record(item_id).path)
        if row is None:
            return {}
        values = self.dataset.select_columns(self.metadata_columns)[row] if self.metadata_columns else {}
        return {k: "" if v is None else str(v) for k, v in values.items()}

    def describe(self, item_id: int) -> str:
        record = self.record(item_id)
        return "\n".join([record.path] + [f"{k}: {v}" for k, v in self.metadata(item_id).items() if v != ""])

    @property
    def where(self) -> str:
        return f"{self.root} ({self.split or 'dataset'})"

    def empty_message(self) -> str:
        return f"the dataset {self.where} has no rows with an image in column {self.column!r}"

    @property
    def name(self) -> str:
        return f"{self.root.name} [{self.split or 'dataset'}] ({int(self._available.sum())} images)"

    def fingerprint(self) -> str:
        return f"hf-dataset:{self.registry.folder_id}"

