"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from fastlabel.data import make_demo

REPO_ROOT = Path(__file__).absolute().parent.parent


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the generated demo data: sprite.png (30x20 grid, 600 faces) and attributes.csv."""
    out = tmp_path_factory.mktemp("demo")
    make_demo(out)
    return out


@pytest.fixture(scope="session")
def celeba_dir() -> Path:
    """The shared real-face data beside the repository (../shared/data); skips when absent."""
    path = REPO_ROOT.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"real face data not found at {path}")
    return path
