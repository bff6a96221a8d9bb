"""One table of every item with a column group per concept, and the formats other tools read it in.

Rows: every item served now, and every item labeled in any concept. Columns: `id`, then what names the
item (`path`, a manifest's `key`, its other columns, `missing` for a file gone since it was labeled),
then per concept `<concept>.label` (the human's label where given, else the model's at the threshold),
`<concept>.prob_pos` (the newest head's) and `<concept>.labeler` (who gave the label in effect, or "model").

Formats: CSV, Parquet (pyarrow), a Hugging Face `datasets` Dataset saved to disk (a ClassLabel per
concept, and the image), Label Studio tasks JSON (the human's choices as annotations, the model's as
predictions), and FiftyOne's image classification layout (data.json + labels.json per concept).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..concepts import file_stem
from ..data import ImageFolder
from ..data.media import AUDIO, media_of
from ..data.sources import png_bytes
from ..errors import InvalidInput
from ..events.label_policy import given_by
from ..files import write_atomic
from ..workspace import window_fields

if TYPE_CHECKING:
    from ..workspace import Workspace

FORMATS = ("csv", "parquet", "hf", "label-studio", "fiftyone")
SUFFIX_FORMATS = {".csv": "csv", ".parquet": "parquet", ".json": "label-studio"}
CLASS_NAMES = ("negative", "positive")


@dataclass
class LabelTable:
    """Column-oriented: `columns` maps a name to one value per row (rows in id order)."""

    concepts: list[str]
    columns: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def ids(self) -> list[int]:
        return self.columns["id"]

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self) -> list[dict[str, Any]]:
        names = list(self.columns)
        return [dict(zip(names, values)) for values in zip(*self.columns.values())]


def label_table(ws: Workspace, concepts: list[str] | None = None) -> LabelTable:
    """The table of `concepts` (default: every concept of the workspace)."""
    names = [ws.concepts.resolve(c) for c in concepts] if concepts else ws.concepts.names()
    sessions = {name: ws.concepts.session(name) for name in names}
    for session in sessions.values():
        session.settle()  # a large pool's background pass covers the newest head
    served = ws.source.available()
    labeled = set().union(*(s.state.labels.keys() for s in sessions.values()))
    ids = [i for i in range(len(served)) if served[i] or i in labeled]
    table = LabelTable(names, {"id": ids})
    source = ws.source
    if media_of(source) is AUDIO:  # a window of a recording: its file and times
        where = [window_fields(source, i) for i in ids]
        for column in ("file", "start_s", "end_s"):
            table.columns[column] = [w[column] for w in where]
        missing = [not source.file_record(i).present for i in ids]  # type: ignore[attr-defined]
        if any(missing):
            table.columns["missing"] = missing
    elif isinstance(source, ImageFolder):
        table.columns["path"] = [source.paths[i] for i in ids]
        keys = [source.record(i).key for i in ids]
        if any(k is not None for k in keys):
            table.columns["key"] = keys
        metadata = getattr(source, "metadata", None)
        if metadata is not None:
            rows = [metadata(i) for i in ids]
            for column in dict.fromkeys(c for row in rows for c in row):
                table.columns.setdefault(column, [row.get(column, "") for row in rows])
        missing = [not source.record(i).present for i in ids]
        if any(missing):
            table.columns["missing"] = missing
    for name, session in sessions.items():
        body = session.predictions()
        by_id = {item["id"]: item for item in body["items"]}
        table.columns[f"{name}.label"] = [int(by_id[i]["label"]) for i in ids]
        table.columns[f"{name}.prob_pos"] = [float(by_id[i]["prob_pos"]) for i in ids]
        table.columns[f"{name}.labeler"] = [labeler_of(session.state, i) if by_id[i]["source"] == "human" else "model"
                                            for i in ids]
    return table


def labeler_of(state: Any, item: int) -> str:
    """Who gave the label in effect: the labeler whose latest label it is ("resolved" for an admin's decision)."""
    if item in state.resolved:
        return "resolved"
    return given_by(state.votes.get(item, {}), state.labels.get(item)) or "human"


def table_format(out: Path, fmt: str | None) -> str:
    """The format asked for, or the one the output's name implies; InvalidInput otherwise."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise InvalidInput(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        return fmt
    found = SUFFIX_FORMATS.get(out.suffix.lower())
    if found is None:
        raise InvalidInput(f"cannot tell the format from {out.name}: end it in .csv, .parquet or .json, "
                           f"or give --format ({', '.join(FORMATS)})")
    return found


def write_table(ws: Workspace, table: LabelTable, out: Path, fmt: str) -> Path:
    """Write `table` to `out` in `fmt` (hf and fiftyone: a folder); returns what was written."""
    writers = {"csv": write_csv, "parquet": write_parquet, "hf": write_hf, "label-studio": write_label_studio,
               "fiftyone": write_fiftyone}
    return writers[fmt](ws, table, Path(out))


def csv_bytes(table: LabelTable) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(zip(*table.columns.values()))
    return buffer.getvalue().encode()


def write_csv(ws: Workspace, table: LabelTable, out: Path) -> Path:
    write_atomic(out, csv_bytes(table))
    return out


def arrow_table(table: LabelTable) -> Any:
    try:
        import pyarrow as pa
    except ImportError as exc:
        raise InvalidInput(f"Parquet needs pyarrow ({exc}): pip install 'fastlabel[data]'") from None
    types = {"id": pa.int64()}
    for name in table.concepts:
        types |= {f"{name}.label": pa.int8(), f"{name}.prob_pos": pa.float32(), f"{name}.labeler": pa.string()}
    return pa.table({c: pa.array(v, type=types.get(c)) for c, v in table.columns.items()})


def parquet_bytes(table: LabelTable) -> bytes:
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(arrow_table(table), buffer)
    return buffer.getvalue()


def write_parquet(ws: Workspace, table: LabelTable, out: Path) -> Path:
    write_atomic(out, parquet_bytes(table))
    return out


def file_path(ws: Workspace, item: int) -> Path | None:
    """The item's image file on disk, when it has one (a folder's or a manifest's)."""
    source = ws.source
    if isinstance(source, ImageFolder) and type(source).decode is ImageFolder.decode:
        return (source.root / source.record(item).path).resolve()
    return None


def image_bytes(ws: Workspace, item: int) -> bytes:
    """The item's image as PNG, for sources without files (sprite tiles, dataset rows)."""
    return png_bytes(ws.source.image(item))


def fresh_folder(out: Path) -> Path:
    """A temporary folder beside `out`, moved into place when the export is complete."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out} exists and is not an empty folder; choose a new one")
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))


def move_into_place(tmp: Path, out: Path) -> Path:
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return out


def write_hf(ws: Workspace, table: LabelTable, out: Path) -> Path:
    """A `datasets` Dataset, saved with save_to_disk: the table's columns, `<concept>.label` a ClassLabel
    (negative, positive), and the image (its file, or its pixels for a sprite tile or dataset row)."""
    try:
        import datasets
    except ImportError as exc:
        raise InvalidInput(f"--format hf needs the datasets library ({exc}): pip install 'fastlabel[data]'") from None
    features = datasets.Features.from_arrow_schema(arrow_table(table).schema)
    for name in table.concepts:
        features[f"{name}.label"] = datasets.ClassLabel(names=list(CLASS_NAMES))
    columns = dict(table.columns)
    images = []
    for i in table.ids:
        path = file_path(ws, i)
        images.append({"path": str(path), "bytes": None} if path is not None and path.is_file()
                      else {"path": None, "bytes": image_bytes(ws, i)})
    columns["image"] = images
    features["image"] = datasets.Image()
    dataset = datasets.Dataset.from_dict(columns, features=features)
    tmp = fresh_folder(out)
    try:
        dataset.save_to_disk(str(tmp))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return move_into_place(tmp, out)


def label_studio_image(ws: Workspace, item: int) -> str:
    """How a task names its image: Label Studio's local-files URL for a file (serve with
    LOCAL_FILES_DOCUMENT_ROOT=/), else the pixels as a data URL."""
    path = file_path(ws, item)
    if path is not None:
        return "/data/local-files/?d=" + path.as_posix().lstrip("/")
    return "data:image/png;base64," + base64.b64encode(image_bytes(ws, item)).decode("ascii")


def label_studio_config(concepts: list[str]) -> str:
    """The labeling interface the tasks fit: the image and one yes/no choice per concept."""
    blocks = "".join(f'  <Header value="{name}"/>\n  <Choices name="{file_stem(name)}" toName="image" choice="single">\n'
                     f'    <Choice value="{name}"/>\n    <Choice value="not {name}"/>\n  </Choices>\n'
                     for name in concepts)
    return f'<View>\n  <Image name="image" value="$image"/>\n{blocks}</View>\n'


def choice(name: str, label: int) -> dict[str, Any]:
    return {"choices": [name if label else f"not {name}"]}


def label_studio_tasks(ws: Workspace, table: LabelTable) -> list[dict[str, Any]]:
    """One task per row: data (image, fastlabel id, the item's columns), the human's labels as one
    annotation, the model's guesses (with their probability) as one prediction."""
    tasks = []
    skip = {"id"} | {f"{c}.{part}" for c in table.concepts for part in ("label", "prob_pos", "labeler")}
    for row in table.rows():
        data = {"image": label_studio_image(ws, row["id"]), "fastlabel_id": row["id"]}
        data |= {k: v for k, v in row.items() if k not in skip}
        human, model = [], []
        for name in table.concepts:
            label, prob = row[f"{name}.label"], row[f"{name}.prob_pos"]
            result = {"from_name": file_stem(name), "to_name": "image", "type": "choices"}
            model.append({**result, "value": choice(name, int(prob >= 0.5)), "score": round(max(prob, 1 - prob), 4)})
            if row[f"{name}.labeler"] != "model":
                human.append({**result, "value": choice(name, label)})
        task: dict[str, Any] = {"data": data,
                                "predictions": [{"model_version": "fastlabel", "result": model,
                                                 "score": round(min(r["score"] for r in model), 4) if model else 0}]}
        if human:
            task["annotations"] = [{"result": human}]
        tasks.append(task)
    return tasks


def write_label_studio(ws: Workspace, table: LabelTable, out: Path) -> Path:
    """Tasks JSON at `out`, and the labeling interface beside it (`<out>.xml`)."""
    write_atomic(out, json.dumps(label_studio_tasks(ws, table), ensure_ascii=False).encode())
    write_atomic(out.with_suffix(".xml"), label_studio_config(table.concepts).encode())
    return out


def fiftyone_labels(table: LabelTable, name: str) -> dict[str, Any]:
    """A FiftyOneImageClassificationDataset labels.json for one concept: its two classes, and per item the
    label with the model's confidence in it."""
    labels = {}
    for i, label, prob in zip(table.ids, table.columns[f"{name}.label"], table.columns[f"{name}.prob_pos"]):
        target = name if label else f"not {name}"
        labels[str(i)] = {"label": target, "confidence": round(prob if label else 1 - prob, 6)}
    return {"classes": [f"not {name}", name], "labels": labels}


def write_fiftyone(ws: Workspace, table: LabelTable, out: Path) -> Path:
    """FiftyOne's image classification layout: data.json (id -> image file; tiles and dataset rows are
    written as PNGs under data/), labels.json (the current concept) and labels_<concept>.json for each."""
    tmp = fresh_folder(out)
    try:
        images: dict[str, str] = {}
        for i in table.ids:
            path = file_path(ws, i)
            if path is None:
                path = tmp / "data" / f"{i}.png"
                path.parent.mkdir(exist_ok=True)
                path.write_bytes(image_bytes(ws, i))
                path = out / "data" / f"{i}.png"
            images[str(i)] = str(path)
        (tmp / "data.json").write_text(json.dumps(images, ensure_ascii=False))
        current = ws.concepts.current if ws.concepts.current in table.concepts else table.concepts[0]
        for name in table.concepts:
            body = json.dumps(fiftyone_labels(table, name), ensure_ascii=False)
            (tmp / f"labels_{file_stem(name)}.json").write_text(body)
            if name == current:
                (tmp / "labels.json").write_text(body)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return move_into_place(tmp, out)
