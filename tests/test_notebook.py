"""The Python API: fastlabel.open, concepts, labels and predictions as DataFrames, the classifier, and the
headless labeling loop; the README's example runs as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastlabel
from fastlabel.errors import InvalidInput

REPO = Path(__file__).absolute().parent.parent
pd = pytest.importorskip("pandas")


def test_headless_loop_labels_predictions_and_classifier(new_home) -> None:
    home = new_home("notebook")
    with fastlabel.open(home=home, encoder="pixels") as ws:
        truth = pd.read_csv(home / "demo" / "attributes.csv")["Wearing_Hat"]
        hat = ws.concept("hat")
        assert "hat" in ws.concepts and hat.labels().empty
        for _ in range(2):
            page = hat.next_page(size=12)
            assert len(page) == 12 and len(page.probs) == len(page.starts) == 12
            reply = hat.submit(page, {i: int(truth[i]) for i in page.ids})
        assert reply["counts"]["labeled"] == 24
        labels = hat.labels()
        assert list(labels.columns) == ["id", "label", "labeler"] and len(labels) == 24
        assert (labels["label"].to_numpy() == truth[labels["id"]].to_numpy()).all()
        predictions = hat.predictions()
        assert {"id", "label", "prob_pos", "labeler"} <= set(predictions.columns) and len(predictions) == 600
        clf = hat.classifier()
        np.testing.assert_allclose(clf.predict_proba(np.asarray(ws.embeddings)), hat.session.probs, atol=1e-5)
        with pytest.raises(InvalidInput):
            hat.submit(None, {0: 2})
        table = ws.table()
        assert "hat.prob_pos" in table.columns
    with pytest.raises(InvalidInput, match="unknown setting"):
        fastlabel.open(hme=home)


def test_readme_example_runs(embedded_demo_home: Path, tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### From Python"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shutil.copytree(embedded_demo_home / "demo", tmp_path / "demo-home" / "demo")
    shutil.copytree(embedded_demo_home / "cache", tmp_path / "demo-home" / "cache")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "FASTLABEL_GRAPH_CACHE": ""}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("['positive', 'smiling'] 72 "), done.stdout
    assert (tmp_path / "smiling.parquet").is_file()
