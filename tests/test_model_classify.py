"""The model leaves the app: the download route and version list, `fastlabel export-model` at any
version, and `fastlabel classify` on new images, against a real (tiny, checkpointed) CLIP encoder."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image

from fastlabel import Classifier
from fastlabel.cli import main
from fastlabel.config import Config
from fastlabel.data import make_demo
from fastlabel.events import load_events
from fastlabel.model.artifact import read_artifact, to_bytes
from fastlabel.server.app import create_app

TINY_CLIP = Path(__file__).parent / "fixtures" / "tiny-clip.json"


def save_tiny_clip(path: Path, seed: int) -> Path:
    """The tiny open_clip model with seeded random weights, saved as a checkpoint file."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    open_clip.add_model_config(TINY_CLIP)
    torch.manual_seed(seed)
    model = open_clip.create_model("tiny-clip", pretrained=None)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory, demo_dir):
    """A served session on the demo faces, embedded by a checkpointed tiny CLIP, with two pages labeled."""
    tmp = tmp_path_factory.mktemp("model-classify")
    ckpt = save_tiny_clip(tmp / "tiny-clip.safetensors", seed=0)
    cfg = Config(home=tmp / "home", sprite=demo_dir / "sprite.png", grid="30x20", encoder="clip",
                 clip_model=str(TINY_CLIP), clip_pretrained=str(ckpt), attributes=demo_dir / "attributes.csv")
    app = create_app(cfg, background=False)
    app.testing = True
    client = app.test_client()
    ws = app.extensions["fastlabel"].workspace
    truth = ws.attributes.column("Smiling")
    for strategy in ("random", "borderline"):
        batch = client.get(f"/api/next_batch?strategy={strategy}&batch_size=40").get_json()
        labels = [{"id": it["id"], "label": int(truth[it["id"]])} for it in batch["items"]]
        res = client.post(f"/api/submit_labels?batch_id={batch['batch_id']}", data=orjson.dumps(labels),
                          content_type="application/json")
        assert res.status_code == 200, res.get_json()
    journal = tmp / "session.jsonl"
    journal.write_bytes(client.get("/api/export/events").data)
    return {"tmp": tmp, "ckpt": ckpt, "cfg": cfg, "client": client, "ws": ws, "journal": journal}


@pytest.fixture(scope="module")
def new_images(tmp_path_factory) -> list[Path]:
    """Faces that are not in the pool: another seed of the demo generator, saved as files."""
    out = tmp_path_factory.mktemp("new-faces")
    demo = make_demo(out / "src", n=10, cols=5, seed=123)
    sprite = Image.open(demo.sprite).convert("RGB")
    tile = sprite.width // 5
    paths = []
    for i in range(10):
        box = (tile * (i % 5), tile * (i // 5), tile * (i % 5 + 1), tile * (i // 5 + 1))
        path = out / "folder" / ("sub" if i % 2 else "") / f"face{i:02d}.{'png' if i % 3 else 'jpg'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        sprite.crop(box).resize((64, 64)).save(path)
        paths.append(path)
    return sorted(paths, key=lambda p: p.relative_to(out / "folder").as_posix())


def download(setup, seq: int | None = None) -> Path:
    res = setup["client"].get("/api/export/model" + (f"?seq={seq}" if seq else ""))
    assert res.status_code == 200, res.get_json()
    assert res.headers["Content-Disposition"].startswith('attachment; filename="')
    path = setup["tmp"] / f"download-{seq}.safetensors"
    path.write_bytes(res.data)
    return path


def test_download_equals_the_session_and_rebuilds_its_encoder(setup) -> None:
    ws = setup["ws"]
    clf = Classifier.load(download(setup), clip_checkpoint=setup["ckpt"])
    assert np.abs(clf.predict_proba(np.asarray(ws.embeddings)) - ws.session.probs).max() <= 1e-5
    spec = clf.metadata["encoder"]
    assert spec["kind"] == "open_clip" and spec["model"] == "tiny-clip" and spec["input_size"] == 32
    assert spec["checkpoint_name"] == "tiny-clip.safetensors" and len(spec["checkpoint_sha256"]) == 64
    assert spec["model_config"]["embed_dim"] == 32 and len(spec["mean"]) == 3
    # images of the pool, embedded again by the rebuilt encoder, score as the session did
    images = [ws.source.image(i) for i in range(8)]
    assert np.abs(clf.predict_proba(images) - ws.session.probs[:8]).max() <= 1e-5


def test_version_list_and_an_earlier_download(setup) -> None:
    body = setup["client"].get("/api/models").get_json()
    versions = body["versions"]
    assert body["concept"] == "positive"
    assert [v["labels"] for v in versions] == [80, 40]  # newest first
    assert all(v["train_ms"] is not None for v in versions)
    earlier = versions[1]["seq"]
    clf = Classifier.load(download(setup, earlier))
    assert clf.metadata["session"]["seq"] == earlier and clf.metadata["training"]["labels"] == 40
    bad = setup["client"].get("/api/export/model?seq=abc")
    assert bad.status_code == 400 and "seq must be" in bad.get_json()["error"]
    missing = setup["client"].get("/api/export/model?seq=2")
    assert missing.status_code == 400 and "no model version at event 2" in missing.get_json()["error"]


def test_export_model_command_at_an_earlier_version(setup, capsys) -> None:
    cfg, tmp = setup["cfg"], setup["tmp"]
    versions = setup["client"].get("/api/models").get_json()["versions"]
    earlier = versions[1]["seq"]
    out = tmp / "cli-earlier.safetensors"
    data_flags = ["--sprite", str(cfg.sprite), "--grid", "30x20", "--encoder", "clip", "--clip-model", str(TINY_CLIP),
                  "--clip-pretrained", str(setup["ckpt"]), "--home", str(cfg.home)]
    assert main(["export-model", str(setup["journal"]), *data_flags, "--at", str(earlier), "--out", str(out)]) == 0
    assert "40 labels" in capsys.readouterr().out
    from_cli, _ = read_artifact(out)
    from_route, _ = read_artifact(download(setup, earlier))
    assert from_cli.keys() == from_route.keys()
    assert all(np.array_equal(from_cli[k], from_route[k]) for k in from_cli)
    onnx_out = tmp / "cli.onnx"
    if importlib.util.find_spec("onnxruntime"):
        assert main(["export-model", str(setup["journal"]), *data_flags, "--format", "onnx", "--out", str(onnx_out)]) == 0
        assert "ONNX graph matches torch on 64 images" in capsys.readouterr().out and onnx_out.stat().st_size > 0
    assert main(["export-model", str(setup["journal"]), *data_flags, "--at", "1", "--out", str(tmp / "x")]) == 2
    assert "no model version at event 1" in capsys.readouterr().err
    assert not (tmp / "x").exists()


def test_classify_a_new_folder_equals_predict_proba(setup, new_images, capsys) -> None:
    model = download(setup)
    folder = next(p for p in new_images[0].parents if p.name == "folder")
    out = setup["tmp"] / "new.jsonl"
    args = ["classify", str(model), "--images", str(folder), "--out", str(out), "--clip-checkpoint",
            str(setup["ckpt"]), "--home", str(setup["tmp"] / "classify-home")]
    assert main(args) == 0
    assert "classified 10 images" in capsys.readouterr().err
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    clf = Classifier.load(model, clip_checkpoint=setup["ckpt"])
    expected = clf.predict_proba(new_images)
    assert [r["path"] for r in rows] == [p.relative_to(folder).as_posix() for p in new_images]
    assert [r["id"] for r in rows] == list(range(10))
    assert np.abs(np.array([r["prob_pos"] for r in rows]) - expected).max() <= 1e-5
    assert [r["label"] for r in rows] == [int(p >= 0.5) for p in expected]
    # CSV, a threshold, and the cached embeddings give the same scores
    csv_out = setup["tmp"] / "new.csv"
    assert main([*args[:4], "--out", str(csv_out), *args[6:], "--threshold", "0.0"]) == 0
    table = list(csv.DictReader(csv_out.open()))
    assert [float(r["prob_pos"]) for r in table] == [r["prob_pos"] for r in rows]
    assert all(r["label"] == "1" for r in table)


def refused(args: list[str], capsys, out: Path, *fragments: str) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastlabel: error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    assert not out.exists()


def test_classify_refusals_write_nothing(setup, new_images, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tmp = setup["tmp"]
    model = download(setup)
    folder = str(next(p for p in new_images[0].parents if p.name == "folder"))
    out = tmp / "refused.jsonl"
    base = ["--images", folder, "--out", str(out), "--home", str(tmp / "classify-home")]
    other = save_tiny_clip(tmp / "other.safetensors", seed=1)
    refused(["classify", str(model), *base, "--clip-checkpoint", str(other)], capsys, out,
            "has sha256", "trained on tiny-clip.safetensors", "Pass the original checkpoint")
    refused(["classify", str(model), *base], capsys, out, "pass that file with --clip-checkpoint")
    tensors, meta = read_artifact(model)

    def variant(name: str, **encoder) -> Path:
        path = tmp / name
        path.write_bytes(to_bytes(tensors, {**meta, "encoder": {**meta["encoder"], **encoder}}))
        return path

    no_weights = variant("tag.safetensors", model="ViT-B-32", pretrained="laion2b_s34b_b79k", checkpoint_sha256=None)
    refused(["classify", str(no_weights), *base], capsys, out, "CLIP weights ViT-B-32/laion2b_s34b_b79k are not in the local cache")
    refused(["classify", str(variant("kind.safetensors", kind="dinov9")), *base], capsys, out, "unknown encoder kind 'dinov9'")
    narrow = {k: v for k, v in tensors.items()}
    narrow["head.net.0.weight"] = narrow["head.net.0.weight"][:, :16]
    narrow.pop("prior.text", None)
    (tmp / "narrow.safetensors").write_bytes(to_bytes(narrow, {**meta, "prior": None,
                                                                  "encoder": {**meta["encoder"], "embedding_dim": 16}}))
    refused(["classify", str(tmp / "narrow.safetensors"), *base, "--clip-checkpoint", str(setup["ckpt"])], capsys, out,
            "gives 32-d embeddings, the model expects 16-d")
    data = model.read_bytes()
    (tmp / "cut.safetensors").write_bytes(data[: len(data) // 2])
    refused(["classify", str(tmp / "cut.safetensors"), *base], capsys, out, "truncated")
    refused(["classify", str(tmp / "absent.safetensors"), *base], capsys, out, "does not exist")
    refused(["classify", str(model), *base[:2], "--out", str(tmp / "x.txt")], capsys, tmp / "x.txt", ".jsonl or .csv")


def test_the_journal_replays_to_the_same_versions(setup) -> None:
    from fastlabel.model.versions import model_versions

    events = load_events(setup["journal"])
    listed = setup["client"].get("/api/models").get_json()["versions"]
    assert [v.seq for v in reversed(model_versions(events))] == [v["seq"] for v in listed]
