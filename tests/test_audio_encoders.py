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
from fastlabel.errors import NoTextSide  # noqa: E402


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
    encoder = make_encoder("logmel")
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
