"""How long does switching concepts take? Through the app's own routes (Flask test client).

Two concepts on one workspace, each labeled with `--pages` pages of 48 answered from an attribute
column. Then, median of `--repeats` switches back and forth:
- the switch alone (`POST /api/concepts/current`), and
- what the page does before showing the other concept: switch + `GET /api/state` + `GET /api/next_batch`.
And after a restart: how long the other concept takes to be replayed in the background (its
retrains redone), and the first switch to it once that is done.

Run: .venv/bin/python benchmarks/concept_switch.py --sprite ../shared/data/celeba10k/sprite.jpg --grid 100x100 \
         --embeddings ../flhome/celeba10k_imagenet.npy --attributes ../shared/data/celeba10k/attributes.csv
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from fastlabel.config import Config
from fastlabel.data import read_attributes
from fastlabel.server.app import create_app

CONCEPTS = {"smiling": "Smiling", "eyeglasses": "Eyeglasses"}


def label(client, concept: str, truth: np.ndarray, pages: int) -> None:
    for _ in range(pages):
        batch = client.get(f"/api/next_batch?batch_size=48&concept={concept}").get_json()
        labels = [{"id": it["id"], "label": int(truth[it["id"]])} for it in batch["items"]]
        res = client.post(f"/api/submit_labels?batch_id={batch['batch_id']}&concept={concept}", json=labels)
        assert res.status_code == 200, res.get_json()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sprite", type=Path, required=True)
    parser.add_argument("--grid", required=True)
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--attributes", type=Path, required=True)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="fastlabel-switch-"))
    config = Config(home=home, sprite=args.sprite, grid=args.grid, encoder="precomputed", embeddings=args.embeddings,
                    attributes=args.attributes, concept="smiling")
    app = create_app(config, background=False)
    client = app.test_client()
    n = client.get("/api/state").get_json()["data"]["n_items"]
    attrs = read_attributes(args.attributes, n)
    client.post("/api/concepts", json={"name": "eyeglasses"})
    for concept, column in CONCEPTS.items():
        label(client, concept, attrs.column(column), args.pages)

    def switch(name: str) -> None:
        assert client.post("/api/concepts/current", json={"name": name}).status_code == 200

    def page_switch(name: str) -> None:
        switch(name)
        assert client.get(f"/api/state?concept={name}").status_code == 200
        assert client.get(f"/api/next_batch?batch_size=48&concept={name}").status_code == 200

    names = list(CONCEPTS) * args.repeats
    alone = [timed(lambda k=k: switch(k)) for k in names]
    with_page = [timed(lambda k=k: page_switch(k)) for k in names]
    switch("smiling")
    app.extensions["fastlabel"].close()

    start = time.perf_counter()
    app = create_app(config, background=False)
    restart_ms = (time.perf_counter() - start) * 1000
    client = app.test_client()
    opening = timed(lambda: app.extensions["fastlabel"].workspace.concepts.wait_open())
    first = timed(lambda: switch("eyeglasses"))
    app.extensions["fastlabel"].close()
    print(f"{n} items, {args.pages} pages of 48 per concept, {len(names)} switches:")
    print(f"  switch alone: median {statistics.median(alone):.1f} ms (max {max(alone):.1f})")
    print(f"  switch + state + next page: median {statistics.median(with_page):.1f} ms (max {max(with_page):.1f})")
    print(f"  restart (current concept replayed): {restart_ms:.0f} ms")
    print(f"  the other concept replayed in the background after the restart ({args.pages} retrains): "
          f"{opening:.0f} ms more; then the first switch to it: {first:.0f} ms")


if __name__ == "__main__":
    main()
