"""Shared fixtures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import pytest

from fastlabel.config import Config
from fastlabel.workspace import open_pool

REPO_ROOT = Path(__file__).absolute().parent.parent
os.environ.setdefault("FASTLABEL_GRAPH_CACHE", "")  # tests export ONNX graphs into their own homes only


@pytest.fixture(scope="session")
def embedded_demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding the generated demo faces and their cached pixel embeddings, made once per run."""
    home = tmp_path_factory.mktemp("demo-home")
    open_pool(Config(home=home, encoder="pixels"))
    return home


@pytest.fixture(scope="session")
def new_home(embedded_demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Make a fresh home (no sessions) that already holds the demo faces and their pixel embeddings."""

    def make(name: str = "home") -> Path:
        home = tmp_path_factory.mktemp(name)
        for part in ("demo", "cache"):
            shutil.copytree(embedded_demo_home / part, home / part)
        return home

    return make


@pytest.fixture(scope="session")
def imagenet_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the ImageNet encoder's ONNX graph, so a test run exports it once."""
    return tmp_path_factory.mktemp("imagenet-cache")


@pytest.fixture(scope="session")
def demo_dir(embedded_demo_home: Path) -> Path:
    """A folder holding the generated demo data: sprite.png (30x20 grid, 600 faces) and attributes.csv."""
    return embedded_demo_home / "demo"


@pytest.fixture(scope="session")
def celeba_dir() -> Path:
    """The shared real-face data beside the repository (../shared/data); skips when absent."""
    path = REPO_ROOT.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"real face data not found at {path}")
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that reads the real faces carries the `celeba` marker, so `-m "not celeba"` leaves it out."""
    for item in items:
        if "celeba_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.celeba)
