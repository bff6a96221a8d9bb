"""The label table and its formats, each read back by the library that reads it (pandas, pyarrow, datasets),
or checked against the documented schema (Label Studio tasks, FiftyOne image classification)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fastlabel.cli import main
from fastlabel.config import Config
from fastlabel.model.label_table import label_table, table_format, write_table
from fastlabel.server.app import create_app
from fastlabel.errors import InvalidInput
from fastlabel.workspace import open_workspace

SMILING = [(0, 1), (1, 0), (2, 1), (3, 0)]
HAT = [(2, 1), (5, 0), (6, 1), (7, 0)]


@pytest.fixture(scope="module")
def labeled(new_home) -> tuple:
    """A demo workspace with two concepts labeled a little."""
    home = new_home("tables")
    ws = open_workspace(Config(home=home, encoder="pixels", concept="smiling"))
    ws.session.submit(SMILING)
    ws.concepts.create("hat")
    ws.concepts.session("hat").submit(HAT)
    return home, ws


def test_table_has_a_column_group_per_concept(labeled) -> None:
    _, ws = labeled
    table = label_table(ws)
    assert table.concepts == ["smiling", "hat"] and len(table) == 600
    assert list(table.columns)[:1] == ["id"]
    rows = {r["id"]: r for r in table.rows()}
    for item, label in SMILING:
        assert rows[item]["smiling.label"] == label and rows[item]["smiling.labeler"] == "owner"
    assert rows[5]["hat.label"] == 0 and rows[5]["hat.labeler"] == "owner" and rows[5]["smiling.labeler"] == "model"
    assert rows[100]["hat.label"] == int(rows[100]["hat.prob_pos"] >= 0.5)


def test_csv_and_parquet_read_back_with_pandas_and_pyarrow(labeled, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pq = pytest.importorskip("pyarrow.parquet")
    _, ws = labeled
    table = label_table(ws, ["hat"])
    write_table(ws, table, tmp_path / "t.csv", table_format(tmp_path / "t.csv", None))
    write_table(ws, table, tmp_path / "t.parquet", table_format(tmp_path / "t.parquet", None))
    frame = pd.read_csv(tmp_path / "t.csv")
    assert list(frame.columns) == ["id", "hat.label", "hat.prob_pos", "hat.labeler"] and len(frame) == 600
    back = pq.read_table(tmp_path / "t.parquet")
    assert back.column("hat.label").to_pylist() == frame["hat.label"].tolist()
    assert str(back.schema.field("hat.label").type) == "int8"
    assert back.column("hat.prob_pos").to_pylist() == pytest.approx(frame["hat.prob_pos"].tolist(), abs=1e-4)
    assert {i: y for i, y in zip(frame["id"], frame["hat.label"]) if i in dict(HAT)} == dict(HAT)


def test_hugging_face_export_has_a_class_label_per_concept(labeled, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    _, ws = labeled
    out = write_table(ws, label_table(ws), tmp_path / "hf", "hf")
    ds = datasets.load_from_disk(str(out))
    assert isinstance(ds.features["smiling.label"], datasets.ClassLabel)
    assert ds.features["smiling.label"].names == ["negative", "positive"]
    assert ds[2]["hat.label"] == 1 and ds[2]["smiling.label"] == 1 and ds[1]["smiling.labeler"] == "owner"
    assert ds[0]["image"].size == (48, 48)  # the tile's pixels, for a sprite


def test_label_studio_tasks_fit_their_labeling_config(labeled, tmp_path: Path) -> None:
    _, ws = labeled
    out = write_table(ws, label_table(ws), tmp_path / "tasks.json", "label-studio")
    tasks = json.loads(out.read_text())
    config = ET.fromstring((tmp_path / "tasks.xml").read_text())
    controls = {c.get("name"): {ch.get("value") for ch in c} for c in config.iter("Choices")}
    assert {c.get("toName") for c in config.iter("Choices")} == {i.get("name") for i in config.iter("Image")}
    assert len(tasks) == 600 and tasks[0]["data"]["image"].startswith("data:image/png;base64,")
    for task in tasks:
        for result in task["predictions"][0]["result"] + sum((a["result"] for a in task.get("annotations", [])), []):
            assert result["type"] == "choices" and result["to_name"] == "image"
            assert set(result["value"]["choices"]) <= controls[result["from_name"]]
    annotated = {t["data"]["fastlabel_id"]: t["annotations"][0]["result"] for t in tasks if "annotations" in t}
    assert set(annotated) == {0, 1, 2, 3, 5, 6, 7}
    assert {r["from_name"]: r["value"]["choices"] for r in annotated[2]} == {"smiling": ["smiling"], "hat": ["hat"]}


def test_fiftyone_image_classification_layout(labeled, tmp_path: Path) -> None:
    _, ws = labeled
    out = write_table(ws, label_table(ws), tmp_path / "fo", "fiftyone")
    data = json.loads((out / "data.json").read_text())
    labels = json.loads((out / "labels.json").read_text())
    assert labels == json.loads((out / "labels_smiling.json").read_text())
    assert set(labels["labels"]) == set(data) and labels["classes"] == ["not smiling", "smiling"]
    assert all(Path(p).is_file() for p in data.values())
    assert labels["labels"]["0"]["label"] == "smiling" and labels["labels"]["1"]["label"] == "not smiling"
    table = label_table(ws)
    by_model = {str(i) for i, who in zip(table.ids, table.columns["smiling.labeler"]) if who == "model"}
    assert all(t["label"] in labels["classes"] and 0 <= t["confidence"] <= 1 for t in labels["labels"].values())
    assert all(labels["labels"][i]["confidence"] >= 0.5 for i in by_model) and len(by_model) == 596
    hat = json.loads((out / "labels_hat.json").read_text())
    assert hat["labels"]["6"]["label"] == "hat"


def test_command_and_route(labeled, tmp_path: Path) -> None:
    home, ws = labeled
    ws.concepts.close()  # the command opens the journals itself
    assert main(["export-table", "--encoder", "pixels", "--home", str(home), "--out", str(tmp_path / "x.csv")]) == 0
    text = (tmp_path / "x.csv").read_text().splitlines()
    assert text[0].startswith("id,smiling.label,smiling.prob_pos,smiling.labeler,hat.label") and len(text) == 601
    assert main(["export-table", "--encoder", "pixels", "--home", str(home), "--out", str(tmp_path / "x.txt")]) == 2
    with pytest.raises(InvalidInput):
        table_format(tmp_path / "x.txt", None)
    app = create_app(Config(home=home, encoder="pixels"), background=False)
    client = app.test_client()
    reply = client.get("/api/export/table")
    assert reply.status_code == 200 and reply.data.decode().splitlines()[0] == text[0]
    assert client.get("/api/export/table?format=xlsx").status_code == 400
    assert client.get("/api/export/table?format=parquet").data[:4] == b"PAR1"
