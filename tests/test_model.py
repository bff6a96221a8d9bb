"""The model file: export -> load -> predict equals the session, versions by replay, and every bad
file refused with a clear message (never unpickled)."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from fastlabel import Classifier
from fastlabel.errors import BadModelFile, EncoderUnavailable, InvalidInput, NotReady
from fastlabel.events import SessionStarted, fold
from fastlabel.model.artifact import HEAD_KEYS, PRIOR_KEY, read_artifact, to_bytes, write_artifact
from fastlabel.model.encoders import rebuild_encoder
from fastlabel.model.versions import export_version, model_versions, replayed_snapshot, session_id
from fastlabel.session import LabelingSession


class FakeEncoder:
    """Stands in for the pool's encoder: only its id matters to an embeddings-only model."""

    id = "precomputed:sha256-test"
    has_text = False
    logit_scale = 1.0


class FakeText:
    has_text = True
    logit_scale = 40.0

    def __init__(self, direction: np.ndarray) -> None:
        self.direction = direction

    def encode_text(self, text: str) -> np.ndarray:
        return self.direction


@pytest.fixture(scope="module")
def pool():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(500, 24)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = (x[:, 0] - 0.4 * x[:, 2] > 0).astype(int)
    return x, y


def labeled_session(x, y, *, query: bool, pages=("random", "borderline", "random", "borderline")) -> LabelingSession:
    direction = np.zeros(x.shape[1], np.float32)
    direction[0] = 1.0
    s = LabelingSession(x, seed=4, text_encoder=FakeText(direction))
    if query:
        s.set_query("the first axis")
    for name in pages:
        batch = s.next_batch(name, 32)
        s.submit([(i, int(y[i])) for i in batch.ids], batch_id=batch.batch_id)
    return s


@pytest.fixture(scope="module")
def sessions(pool):
    x, y = pool
    return {q: labeled_session(x, y, query=q) for q in (False, True)}


@pytest.fixture(scope="module")
def model_file(sessions, tmp_path_factory) -> Path:
    export = export_version(sessions[True], FakeEncoder())
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    write_artifact(path, export.tensors, export.metadata)
    return path


@pytest.mark.parametrize("query", [False, True], ids=["head", "head+prior"])
def test_export_load_predict_equals_session_probabilities(sessions, pool, tmp_path, query) -> None:
    x, _ = pool
    s = sessions[query]
    export = export_version(s, FakeEncoder())
    path = tmp_path / "m.safetensors"
    write_artifact(path, export.tensors, export.metadata)
    clf = Classifier.load(path)
    probs = clf.predict_proba(x)
    assert probs.shape == (len(x),) and probs.dtype == np.float32
    assert np.abs(probs - s.probs).max() <= 1e-5
    assert (clf.prior is not None) == query
    assert np.array_equal(clf.predict(x), (s.probs >= 0.5).astype(int))
    assert np.abs(clf.predict_proba(list(x[:5])) - s.probs[:5]).max() <= 1e-5  # a list of rows works too


def test_metadata_says_what_the_issue_asks(model_file, sessions) -> None:
    meta = Classifier.load(model_file).metadata
    s = sessions[True]
    st = s.state
    assert meta["format"] == "fastlabel-model" and meta["format_version"] == 1
    assert meta["concept"] == "positive" and meta["threshold"] == 0.5
    assert meta["encoder"] == {"kind": "precomputed", "id": FakeEncoder.id, "embedding_dim": 24, "l2_normalised": True}
    assert meta["training"]["labels"] == len(st.labels) and meta["training"]["positives"] == st.n_positive
    assert meta["training"]["trained_on"] == len([i for i in st.labels if i not in st.audit_ids])
    assert meta["session"]["seq"] == s.history()[-1].seq and meta["session"]["id"] == session_id(s.log.events)
    assert meta["estimates"] == s.insights()["estimates"]  # what the panel showed at that point
    assert meta["prior"]["query"] == "the first axis" and 0 < meta["prior"]["weight"] < 1
    assert meta["fastlabel_version"] and meta["created"].endswith("Z")


def test_every_retrain_is_a_version_and_an_earlier_one_equals_a_truncated_replay(sessions, pool, tmp_path) -> None:
    x, _ = pool
    s = sessions[True]
    versions = model_versions(s.log.events)
    assert [v.seq for v in versions] == [p.seq for p in s.history()]
    assert [v.labels for v in versions] == [p.labeled for p in s.history()]
    assert s.history()[-1].estimates == s.insights()["estimates"]  # what the version list shows
    earlier = versions[1].seq
    export = replayed_snapshot(s.log.events, earlier, x, FakeEncoder())
    path = tmp_path / "earlier.safetensors"
    write_artifact(path, export.tensors, export.metadata)
    replayed = LabelingSession.replay([e for e in s.log.events if e.seq <= earlier], x)
    probs = Classifier.load(path).predict_proba(x)
    assert np.abs(probs - replayed.probs).max() <= 1e-5
    assert np.abs(probs - s.probs).max() > 1e-3  # really another model than the latest
    assert export.metadata["session"]["seq"] == earlier
    assert export.metadata["training"]["labels"] == len(fold(e for e in s.log.events if e.seq <= earlier).labels)
    # the live session answers an earlier seq by replay too
    again = export_version(s, FakeEncoder(), earlier)
    assert all(np.array_equal(again.tensors[k], export.tensors[k]) for k in export.tensors)


def test_no_model_yet_and_unknown_version_are_refused(pool, sessions) -> None:
    x, y = pool
    with pytest.raises(InvalidInput, match="no model version at event 3; versions"):
        export_version(sessions[False], FakeEncoder(), 3)
    with pytest.raises(NotReady, match="no model yet"):
        export_version(LabelingSession(x), FakeEncoder())
    one_class = LabelingSession(x, seed=2)
    batch = one_class.next_batch("random", 24)
    one_class.submit([(i, 1) for i in batch.ids], batch_id=batch.batch_id)
    with pytest.raises(NotReady, match="no model yet"):
        export_version(one_class, FakeEncoder())
    # after a retrain without a head (undo back to no labels), the default is the latest version with one
    s = labeled_session(x, y, query=False, pages=("random",))
    first = model_versions(s.log.events)[-1].seq
    s.undo()
    assert not model_versions(s.log.events)[-1].has_head
    assert export_version(s, FakeEncoder()).metadata["session"]["seq"] == first


def test_concept_is_recorded_and_carried(pool) -> None:
    x, y = pool
    s = LabelingSession(x, seed=1)
    assert s.state.concept == "positive"
    named = LabelingSession(x, seed=1, concept="Smiling")
    assert named.state.concept == "Smiling" and named.log.events[0].concept == "Smiling"
    assert named.predictions()["concept"] == "Smiling"
    started = SessionStarted(seq=1, ts=0.0, seed=1, n_items=len(x), concept="Smiling")
    replayed = LabelingSession.replay([started], x)
    assert replayed.state.concept == "Smiling"
    assert json.loads(json.dumps(started.to_dict()))["concept"] == "Smiling"


# ---------------------------------------------------------------- refusals


def test_truncated_file_is_refused(model_file, tmp_path) -> None:
    data = model_file.read_bytes()
    for cut in (0, 5, 40, len(data) // 2, len(data) - 1):
        bad = tmp_path / f"cut{cut}.safetensors"
        bad.write_bytes(data[:cut])
        with pytest.raises(BadModelFile, match="truncated|empty|damaged"):
            Classifier.load(bad)


def test_tampered_file_is_refused(model_file, tmp_path) -> None:
    data = bytearray(model_file.read_bytes())
    data[-3] ^= 0x40  # one weight changed
    bad = tmp_path / "weights.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(BadModelFile, match="does not match its checksum"):
        Classifier.load(bad)
    text = model_file.read_bytes().replace(b'\\"threshold\\": 0.5', b'\\"threshold\\": 0.1')
    assert text != model_file.read_bytes()
    (tmp_path / "meta.safetensors").write_bytes(text)
    with pytest.raises(BadModelFile, match="does not match its checksum"):
        Classifier.load(tmp_path / "meta.safetensors")


def test_missing_file_and_folder_are_refused(tmp_path) -> None:
    with pytest.raises(BadModelFile, match="does not exist"):
        Classifier.load(tmp_path / "nope.safetensors")
    with pytest.raises(BadModelFile, match="is a folder"):
        Classifier.load(tmp_path)


class Boom:
    """Unpickling this would create a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_is_refused_without_being_unpickled(tmp_path) -> None:
    marker = tmp_path / "unpickled"
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps({"head": Boom(marker)}, protocol=4))
    with pytest.raises(BadModelFile, match="Python pickle.*never loads pickles"):
        Classifier.load(evil)
    import torch

    torch.save({"head": Boom(marker)}, tmp_path / "evil.pt")
    with pytest.raises(BadModelFile, match="zip archive"):
        Classifier.load(tmp_path / "evil.pt")
    assert not marker.exists()


def test_a_plain_safetensors_file_is_not_a_model(tmp_path) -> None:
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(3, np.float32)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(BadModelFile, match="not a FastLabel model"):
        Classifier.load(tmp_path / "other.safetensors")


def rewrite(path: Path, out: Path, edit) -> Path:
    """A consistent (checksummed) copy of a model with its metadata or tensors changed by `edit`."""
    tensors, meta = read_artifact(path)
    tensors = dict(tensors)
    edit(tensors, meta)
    out.write_bytes(to_bytes(tensors, meta))
    return out


def test_wrong_dimension_is_refused(model_file, tmp_path, pool) -> None:
    x, _ = pool
    clf = Classifier.load(model_file)
    with pytest.raises(InvalidInput, match=r"takes \(N, 24\) embeddings .* got shape \(3, 16\)"):
        clf.predict_proba(np.zeros((3, 16), np.float32))

    def widen(tensors, meta):
        meta["encoder"]["embedding_dim"] = 512

    with pytest.raises(BadModelFile, match="head takes 24-d embeddings but the metadata says the encoder gives 512-d"):
        Classifier.load(rewrite(model_file, tmp_path / "dim.safetensors", widen))


def test_unknown_encoder_kind_is_refused(model_file, tmp_path) -> None:
    def alien(tensors, meta):
        meta["encoder"]["kind"] = "dinov9"

    clf = Classifier.load(rewrite(model_file, tmp_path / "kind.safetensors", alien))
    with pytest.raises(BadModelFile, match="unknown encoder kind 'dinov9'"):
        clf.predict_proba([tmp_path / "any.png"])


def test_newer_format_and_missing_head_are_refused(model_file, tmp_path) -> None:
    def future(tensors, meta):
        meta["format_version"] = 99

    with pytest.raises(BadModelFile, match="format 99.*Upgrade FastLabel"):
        Classifier.load(rewrite(model_file, tmp_path / "v99.safetensors", future))

    def headless(tensors, meta):
        del tensors[HEAD_KEYS[2]]

    with pytest.raises(BadModelFile, match="lacks the head weights"):
        Classifier.load(rewrite(model_file, tmp_path / "nohead.safetensors", headless))

    def no_prior(tensors, meta):
        del tensors[PRIOR_KEY]

    with pytest.raises(BadModelFile, match="text prior is missing"):
        Classifier.load(rewrite(model_file, tmp_path / "noprior.safetensors", no_prior))


def test_embeddings_only_encoders_say_what_to_do() -> None:
    with pytest.raises(EncoderUnavailable, match="'pixels' embeddings.*predict_proba"):
        rebuild_encoder({"kind": "pixels", "embedding_dim": 8})
    with pytest.raises(EncoderUnavailable, match="random weights, which cannot be rebuilt"):
        rebuild_encoder({"kind": "open_clip", "model": "ViT-B-32", "pretrained": None, "checkpoint_sha256": None,
                         "embedding_dim": 512})


def test_header_is_parsed_by_us_not_by_a_loader_that_trusts_it(model_file, tmp_path) -> None:
    data = model_file.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    huge = struct.pack("<Q", 10**12) + data[8:]
    (tmp_path / "huge.safetensors").write_bytes(huge)
    with pytest.raises(BadModelFile, match="not a FastLabel model"):
        Classifier.load(tmp_path / "huge.safetensors")
    assert size < len(data)


def test_imagenet_encoder_is_rebuilt_at_its_recorded_input_size() -> None:
    from fastlabel.embeddings.imagenet import ImagenetEncoder
    from fastlabel.model.encoders import encoder_spec

    spec = encoder_spec(ImagenetEncoder(device="cpu", input_size=160), 1280)
    assert spec["kind"] == "imagenet" and spec["input_size"] == 160 and spec["id"].endswith("@160px")
    rebuilt = rebuild_encoder(spec, device="cpu")
    assert rebuilt.id == spec["id"] and rebuilt.input_size == 160
