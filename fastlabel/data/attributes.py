"""Ground-truth CSVs that sit beside a data source: binary attributes and person identities.

Rows follow the item order of the source (row i describes item i); the `image_id` column
names the original file and is only checked for presence.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fastlabel.errors import DataError

ID_COLUMN = "image_id"
_BINARY_VALUES = {"0": 0, "1": 1, "-1": 0}  # CelebA writes negatives as -1


@dataclass(frozen=True, eq=False)
class Attributes:
    """Binary attributes per item: values[i, k] is 1 when item i has attribute names[k]."""

    names: tuple[str, ...]
    values: np.ndarray  # (n_items, n_attributes) uint8 of 0/1

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def column(self, name: str) -> np.ndarray:
        """One attribute as a uint8 0/1 vector over the items."""
        try:
            index = self.names.index(name)
        except ValueError:
            raise DataError(
                f"no attribute {name!r}; available: {', '.join(self.names)}"
            ) from None
        return np.ascontiguousarray(self.values[:, index])


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank row, header included."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            for cells in reader:
                if cells and any(cell.strip() for cell in cells):
                    yield reader.line_num, [cell.strip() for cell in cells]
    except FileNotFoundError:
        raise DataError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"cannot read {path}: {error}") from None


def _read_table(
    path: str | os.PathLike[str], n_items: int | None
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and data rows of a CSV that has an image_id column, with row shape and count checked."""
    path = Path(path)
    rows = _csv_rows(path)
    first = next(rows, None)
    if first is None:
        raise DataError(f"{path} is empty; expected a header starting with {ID_COLUMN}")
    header = first[1]
    if ID_COLUMN not in header:
        raise DataError(f"{path}, line {first[0]}: no {ID_COLUMN} column in the header")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise DataError(f"{path}, line {first[0]}: repeated columns {', '.join(duplicates)}")
    body = []
    for line, cells in rows:
        if len(cells) != len(header):
            raise DataError(
                f"{path}, line {line}: {len(cells)} values but the header has {len(header)} columns"
            )
        body.append((line, cells))
    if n_items is not None and len(body) != n_items:
        raise DataError(
            f"{path} has {len(body)} rows but the data source has {n_items} items; "
            "rows must follow the item order one to one"
        )
    return header, body


def read_attributes(path: str | os.PathLike[str], n_items: int | None = None) -> Attributes:
    """Read an `image_id` + 0/1 columns CSV (CelebA's -1/1 is read as 0/1)."""
    header, body = _read_table(path, n_items)
    id_index = header.index(ID_COLUMN)
    columns = [k for k, name in enumerate(header) if k != id_index]
    if not columns:
        raise DataError(f"{path} has no attribute columns beside {ID_COLUMN}")
    values = np.zeros((len(body), len(columns)), dtype=np.uint8)
    for row, (line, cells) in enumerate(body):
        for out, k in enumerate(columns):
            value = _BINARY_VALUES.get(cells[k])
            if value is None:
                raise DataError(
                    f"{path}, line {line}: {header[k]} is {cells[k]!r}; expected 0/1 (or -1/1)"
                )
            values[row, out] = value
    values.flags.writeable = False
    return Attributes(names=tuple(header[k] for k in columns), values=values)


def read_identities(path: str | os.PathLike[str], n_items: int | None = None) -> np.ndarray:
    """Read an `image_id,identity` CSV into an int64 identity per item, for splits by person."""
    header, body = _read_table(path, n_items)
    if "identity" not in header:
        raise DataError(f"{path}: no identity column in the header")
    index = header.index("identity")
    identities = np.empty(len(body), dtype=np.int64)
    for row, (line, cells) in enumerate(body):
        try:
            identities[row] = int(cells[index])
        except ValueError:
            raise DataError(
                f"{path}, line {line}: identity {cells[index]!r} is not an integer"
            ) from None
    return identities
