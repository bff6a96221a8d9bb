"""Encoders (tiny real open_clip, packaged ImageNet weights, pixels, precomputed), the cache, and `auto`."""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fastlabel.embeddings import ENCODER_NAMES, EmbeddingCache, Encoder, embed_source, make_encoder
from fastlabel.embeddings import registry
from fastlabel.embeddings.clip import ClipEncoder
from fastlabel.embeddings.imagenet import FEATURE_DIM, ImagenetEncoder, weights_file
from fastlabel.embeddings.pixels import PixelEncoder
from fastlabel.embeddings.precomputed import PrecomputedEncoder
from fastlabel.errors import DataError, EncoderUnavailable, InvalidInput, NoTextSide

TINY_CLIP_CONFIG = Path(__file__).parent / "fixtures" / "tiny-clip.json"
TINY_CLIP = TINY_CLIP_CONFIG.stem
TINY_EMBED_DIM = 32


class FakeSource:
    """Deterministic coloured-noise images, enough of the ImageSource interface for encoders."""

    def __init__(self, count: int, size: int = 40, seed: int = 0, name: str = "fake") -> None:
        rng = np.random.default_rng(seed)
        base = rng.integers(0, 256, size=(count, 1, 1, 3))
        noise = rng.integers(-40, 40, size=(count, size, size, 3))
        self.pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
        self.name = name
        self.seed = seed

    def __len__(self) -> int:
        return len(self.pixels)

    def image(self, item_id: int) -> Image.Image:
        return Image.fromarray(self.pixels[item_id], "RGB")

    def thumbnail(self, item_id: int) -> bytes:
        return b""

    def fingerprint(self) -> str:
        return f"fake-{len(self)}-{self.seed}"


class SpriteTiles:
    """The first `count` tiles of a sprite sheet (row-major), as an ImageSource."""

    def __init__(self, sprite: Path, count: int, tile: int = 48, cols: int = 40) -> None:
        self.sheet = Image.open(sprite).convert("RGB")
        self.count, self.tile, self.cols, self.name = count, tile, cols, sprite.name

    def __len__(self) -> int:
        return self.count

    def image(self, item_id: int) -> Image.Image:
        x, y = (item_id % self.cols) * self.tile, (item_id // self.cols) * self.tile
        return self.sheet.crop((x, y, x + self.tile, y + self.tile))

    def thumbnail(self, item_id: int) -> bytes:
        return b""

    def fingerprint(self) -> str:
        return f"sprite-{self.count}"


class CountingEncoder:
    """Records how often it is asked to encode."""

    id = "counting:v1"
    has_text = False
    logit_scale = 1.0

    def __init__(self) -> None:
        self.calls = 0

    def encode_images(self, source, progress=None) -> np.ndarray:
        self.calls += 1
        return PixelEncoder(side=4, dims=8).encode_images(source, progress)

    def encode_text(self, text: str) -> np.ndarray:
        raise NoTextSide("no text")


def assert_unit_rows(array: np.ndarray) -> None:
    assert array.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(array, axis=-1), 1.0, atol=1e-5)


@pytest.fixture(scope="module")
def tiny_clip() -> ClipEncoder:
    import open_clip

    open_clip.add_model_config(TINY_CLIP_CONFIG)
    torch.manual_seed(0)
    return ClipEncoder(TINY_CLIP, pretrained=None, device="cpu", batch_size=4)


@pytest.fixture
def empty_hub_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point huggingface_hub at an empty cache, so CLIP weights are missing even where they are cached."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


@pytest.fixture(scope="module")
def imagenet(imagenet_cache: Path) -> ImagenetEncoder:
    return ImagenetEncoder(device="cpu", batch_size=4, cache_dir=imagenet_cache)


# --- CLIP -------------------------------------------------------------------------------------


def test_clip_images_are_unit_rows_deterministic_and_report_progress(tiny_clip: ClipEncoder) -> None:
    source = FakeSource(10)
    calls: list[tuple[int, int]] = []
    first = tiny_clip.encode_images(source, progress=lambda done, total: calls.append((done, total)))
    second = tiny_clip.encode_images(source)
    assert first.shape == (10, TINY_EMBED_DIM)
    assert_unit_rows(first)
    np.testing.assert_array_equal(first, second)
    assert calls == [(4, 10), (8, 10), (10, 10)]
    assert not np.allclose(first[0], first[1])  # different images, different vectors
    assert isinstance(tiny_clip, Encoder)


def test_clip_text_side(tiny_clip: ClipEncoder) -> None:
    smile = tiny_clip.encode_text("a smiling face")
    assert smile.shape == (TINY_EMBED_DIM,) and smile.dtype == np.float32
    assert np.linalg.norm(smile) == pytest.approx(1.0, abs=1e-5)
    assert not np.allclose(smile, tiny_clip.encode_text("a photo of glasses"))
    assert tiny_clip.has_text and tiny_clip.logit_scale == pytest.approx(1 / 0.07, rel=1e-4)


def test_clip_random_weights_never_share_a_cache_id(tiny_clip: ClipEncoder) -> None:
    other = ClipEncoder(TINY_CLIP, pretrained="", device="cpu")
    assert other.id != tiny_clip.id and other.id.startswith(f"clip:{TINY_CLIP}:random-")


def test_clip_loads_a_local_checkpoint(tiny_clip: ClipEncoder, tmp_path: Path) -> None:
    checkpoint = tmp_path / "tiny.pt"
    torch.save(tiny_clip.model.state_dict(), checkpoint)
    loaded = ClipEncoder(TINY_CLIP, pretrained=str(checkpoint), device="cpu")
    source = FakeSource(3)
    np.testing.assert_allclose(loaded.encode_images(source), tiny_clip.encode_images(source), atol=1e-6)
    np.testing.assert_allclose(loaded.encode_text("x"), tiny_clip.encode_text("x"), atol=1e-6)
    assert loaded.id.startswith(f"clip:{TINY_CLIP}:sha256-")
    assert loaded.id == ClipEncoder(TINY_CLIP, pretrained=str(checkpoint), device="cpu").id


def test_clip_missing_weights_offline_fail_fast_and_say_what_to_do(
    monkeypatch: pytest.MonkeyPatch, empty_hub_cache: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(EncoderUnavailable) as caught:
        ClipEncoder("ViT-B-32", "laion2b_s34b_b79k", device="cpu")
    assert time.perf_counter() - started < 10
    message = str(caught.value)
    assert "ViT-B-32/laion2b_s34b_b79k" in message
    assert "--clip-pretrained" in message and "--encoder imagenet" in message
    assert "HF_HUB_OFFLINE" in message and str(empty_hub_cache) in message


def test_clip_bad_names_and_paths_are_explained(tmp_path: Path) -> None:
    with pytest.raises(EncoderUnavailable, match="Unknown CLIP model"):
        ClipEncoder("No-Such-Model", None)
    with pytest.raises(EncoderUnavailable, match="Unknown pretrained tag"):
        ClipEncoder("ViT-B-32", "no_such_tag")
    with pytest.raises(EncoderUnavailable, match="checkpoint file not found"):
        ClipEncoder("ViT-B-32", str(tmp_path / "missing.safetensors"))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(EncoderUnavailable, match="Could not load the checkpoint"):
        ClipEncoder(TINY_CLIP, str(garbage))


# --- ImageNet ---------------------------------------------------------------------------------


def test_imagenet_weights_are_the_packaged_ones(imagenet: ImagenetEncoder) -> None:
    packaged = list(torch.load(weights_file(), map_location="cpu", weights_only=True).values())
    loaded = list(imagenet.model.state_dict().values())
    assert len(loaded) == len(packaged) == 296
    for mine, theirs in zip(loaded, packaged):
        assert torch.equal(mine, theirs)


def test_imagenet_features(imagenet: ImagenetEncoder) -> None:
    source = FakeSource(5, size=48)
    calls: list[tuple[int, int]] = []
    features = imagenet.encode_images(source, progress=lambda done, total: calls.append((done, total)))
    assert features.shape == (5, FEATURE_DIM)
    assert_unit_rows(features)
    assert calls == [(4, 5), (5, 5)]
    assert not imagenet.has_text and imagenet.logit_scale == 1.0
    with pytest.raises(NoTextSide):
        imagenet.encode_text("glasses")


def test_imagenet_preprocess_is_contiguous_rgb_in_minus_one_to_one() -> None:
    from fastlabel.embeddings.imagenet import preprocess

    image = FakeSource(1, size=48).image(0)
    image.putpixel((0, 0), (0, 255, 0))
    pixels = preprocess(image, size=48)  # the native size: no resampling, so the corner stays exact
    assert pixels.shape == (3, 48, 48) and pixels.dtype == torch.float32 and pixels.is_contiguous()
    assert pixels[:, 0, 0].tolist() == [-1.0, 1.0, -1.0]
    resized = image.resize((224, 224), Image.Resampling.BICUBIC)
    as_torch_did = torch.from_numpy(np.asarray(resized, dtype=np.float32)).permute(2, 0, 1) / 127.5 - 1.0
    np.testing.assert_allclose(preprocess(image).numpy(), as_torch_did.numpy(), rtol=0, atol=1e-6)


def holdout_auc(features: np.ndarray, labels: np.ndarray) -> float:
    """AUC of a logistic regression trained on a stratified half, scored on the other half."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, train_size=0.5, stratify=labels, random_state=0
    )
    scores = LogisticRegression(max_iter=2000).fit(x_train, y_train).decision_function(x_test)
    return float(roc_auc_score(y_test, scores))


@pytest.mark.celeba
def test_imagenet_features_are_semantic_on_real_faces(celeba_dir: Path, imagenet_cache: Path) -> None:
    """Pretrained features separate face attributes; random weights (~0.6 AUC) or pixels would not as well."""
    count = 400  # ~10 s on two CPU cores
    folder = celeba_dir / "celeba1k"
    with open(folder / "attributes.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))[:count]
    source = SpriteTiles(folder / "sprite.png", count)
    features = ImagenetEncoder(device="cpu", batch_size=64, cache_dir=imagenet_cache).encode_images(source)
    pixels = PixelEncoder().encode_images(source)
    eyeglasses = np.array([int(row["Eyeglasses"]) for row in rows])
    male = np.array([int(row["Male"]) for row in rows])
    assert holdout_auc(features, eyeglasses) > 0.8
    assert holdout_auc(features, male) > max(0.93, holdout_auc(pixels, male) + 0.03)


# --- pixels and precomputed -------------------------------------------------------------------


def test_pixels_shape_determinism_and_norm() -> None:
    source = FakeSource(30, size=20)
    encoder = PixelEncoder(side=8, dims=16, seed=0)
    first = encoder.encode_images(source)
    assert first.shape == (30, 16)
    assert_unit_rows(first)
    np.testing.assert_array_equal(first, PixelEncoder(side=8, dims=16, seed=0).encode_images(source))
    assert PixelEncoder(dims=128).encode_images(FakeSource(5)).shape == (5, 4)  # capped by N-1
    with pytest.raises(NoTextSide):
        encoder.encode_text("anything")


def test_precomputed_round_trip(tmp_path: Path) -> None:
    rows = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float64)
    path = tmp_path / "emb.npy"
    np.save(path, rows)
    encoder = PrecomputedEncoder(path)
    out = encoder.encode_images(FakeSource(6))
    assert_unit_rows(out)
    np.testing.assert_allclose(out, rows / np.linalg.norm(rows, axis=1, keepdims=True), rtol=1e-5)
    assert encoder.id.startswith("precomputed:sha256-")
    np.save(path, rows * 2)
    assert PrecomputedEncoder(path).id != encoder.id  # same vectors after normalising, but a new file


def test_precomputed_rejects_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "emb.npy"
    np.save(path, np.ones((4, 3), dtype=np.float32))
    with pytest.raises(DataError, match=r"4 rows.*5 images"):
        PrecomputedEncoder(path).encode_images(FakeSource(5))
    bad = np.ones((4, 3), dtype=np.float32)
    bad[2, 1] = np.nan
    np.save(path, bad)
    with pytest.raises(DataError, match=r"NaN or infinite values in 1 rows \(first: row 2\)"):
        PrecomputedEncoder(path).encode_images(FakeSource(4))
    np.save(path, np.ones(4, dtype=np.float32))
    with pytest.raises(DataError, match="2-D"):
        PrecomputedEncoder(path)
    with pytest.raises(DataError, match="not found"):
        PrecomputedEncoder(tmp_path / "absent.npy")
    path.write_bytes(b"junk")
    with pytest.raises(DataError, match="Cannot read"):
        PrecomputedEncoder(path)


# --- cache ------------------------------------------------------------------------------------


def test_cache_round_trip_is_memory_mapped_and_atomic(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache")
    array = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    key = cache.key("data", "enc")
    assert cache.load(key) is None
    cache.save(key, array, {"encoder_id": "enc", "fingerprint": "data"})
    loaded = cache.load(key)
    assert isinstance(loaded, np.memmap)
    np.testing.assert_array_equal(loaded, array)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [f"{key}.json", f"{key}.npy"]
    loaded[0, 0] = 123.0  # copy-on-write: the file keeps its values
    np.testing.assert_array_equal(cache.load(key), array)


def test_cache_keys_change_with_data_and_encoder() -> None:
    key = EmbeddingCache.key("data", "enc")
    assert len(key) == 24 and key == EmbeddingCache.key("data", "enc")
    assert key != EmbeddingCache.key("data2", "enc")
    assert key != EmbeddingCache.key("data", "enc2")


def test_cache_treats_corrupt_files_as_a_miss(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = EmbeddingCache(tmp_path)
    key = cache.key("data", "enc")
    cache.save(key, np.ones((100, 16), dtype=np.float32), {})
    npy = cache.array_path(key)
    npy.write_bytes(npy.read_bytes()[:300])  # truncated
    with caplog.at_level(logging.WARNING):
        assert cache.load(key) is None
    assert "will be recomputed" in caplog.text
    npy.write_bytes(b"garbage")
    assert cache.load(key) is None
    cache.save(key, np.ones((100, 16), dtype=np.float32), {})
    cache.meta_path(key).write_text("{not json")
    assert cache.load(key) is None


def test_embed_source_encodes_once_then_hits_the_cache(tmp_path: Path) -> None:
    encoder, source = CountingEncoder(), FakeSource(12, size=8)
    first = embed_source(source, encoder, tmp_path)
    second = embed_source(source, encoder, tmp_path)
    assert encoder.calls == 1
    assert isinstance(second, np.memmap)
    np.testing.assert_array_equal(first, second)
    embed_source(FakeSource(12, size=8, seed=1), encoder, tmp_path)  # other data: new key
    assert encoder.calls == 2


def test_embed_source_survives_an_unwritable_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING):
        out = embed_source(FakeSource(4, size=8), CountingEncoder(), blocker / "cache")
    assert out.shape[0] == 4 and "Could not cache" in caplog.text


def test_warm_cache_load_is_fast(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    key = cache.key("big", "enc")
    cache.save(key, np.zeros((10_000, 512), dtype=np.float32), {})
    started = time.perf_counter()
    loaded = cache.load(key)
    assert loaded is not None and loaded.shape == (10_000, 512)
    assert time.perf_counter() - started < 0.5


# --- registry ---------------------------------------------------------------------------------


def test_make_encoder_by_name(tmp_path: Path) -> None:
    assert set(ENCODER_NAMES) == {"auto", "clip", "imagenet", "pixels", "precomputed", "birdnet", "logmel"}
    assert isinstance(make_encoder("pixels"), PixelEncoder)
    path = tmp_path / "e.npy"
    np.save(path, np.ones((3, 2), dtype=np.float32))
    assert isinstance(make_encoder("precomputed", embeddings_path=path), PrecomputedEncoder)
    assert isinstance(make_encoder("auto", embeddings_path=path), PrecomputedEncoder)
    with pytest.raises(InvalidInput, match="--embeddings"):
        make_encoder("precomputed")
    with pytest.raises(InvalidInput, match="auto, clip, imagenet, pixels, precomputed"):
        make_encoder("resnet")


def test_auto_falls_back_to_imagenet_with_a_loud_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, imagenet: ImagenetEncoder
) -> None:
    asked: dict[str, object] = {}

    def no_clip(*args: object, **kwargs: object) -> None:
        asked.update(kwargs)
        raise EncoderUnavailable("no CLIP weights here")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(registry, "ClipEncoder", no_clip)
    monkeypatch.setattr(registry, "ImagenetEncoder", lambda **kwargs: imagenet)
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        encoder = make_encoder("auto")
    assert encoder is imagenet
    assert asked["allow_download"] is False  # auto never waits on the network
    assert "ZERO-SHOT TEXT QUERIES ARE OFF" in caplog.text and "no CLIP weights here" in caplog.text


def test_auto_last_resort_is_pixels(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def unavailable(*args: object, **kwargs: object) -> None:
        raise EncoderUnavailable("missing")

    monkeypatch.setattr(registry, "ClipEncoder", unavailable)
    monkeypatch.setattr(registry, "ImagenetEncoder", unavailable)
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        assert isinstance(make_encoder("auto"), PixelEncoder)
    assert "raw-pixel" in caplog.text


def test_auto_with_real_missing_clip_is_quick(
    monkeypatch: pytest.MonkeyPatch, empty_hub_cache: Path, imagenet: ImagenetEncoder
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(registry, "ImagenetEncoder", lambda **kwargs: imagenet)
    started = time.perf_counter()
    assert make_encoder("auto", clip_model="ViT-B-32", clip_pretrained="laion2b_s34b_b79k") is imagenet
    assert time.perf_counter() - started < 10
