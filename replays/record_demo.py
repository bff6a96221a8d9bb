"""Record a session through the running server's HTTP API, answering every card from an attributes CSV.

The labeler behaves like a careful user of the page: each card starts pre-labeled from the
model (prob >= 0.5 is positive), the wrong ones are flipped (the page's click count), then the
page is confirmed. Once, a page goes in with one card wrong and is undone and redone.

    fastlabel serve --port 8123 --encoder pixels --home /tmp/fl-record --session /tmp/fl-record/demo-smiling.jsonl
    python replays/record_demo.py --url http://127.0.0.1:8123 \\
        --attributes /tmp/fl-record/demo/attributes.csv --attribute Smiling
"""

from __future__ import annotations

import argparse
import csv
import json
import time
import urllib.parse
import urllib.request
from typing import Any


def call(url: str, method: str = "GET", body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def read_column(path: str, name: str) -> list[int]:
    with open(path, newline="") as fh:
        return [int(row[name]) for row in csv.DictReader(fh)]


def wait_ready(base: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if call(f"{base}/api/state")["status"] == "ready":
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{base} did not get ready in {timeout_s} s")


def label_page(base: str, truth: list[int], strategy: str, batch_size: int, slip: bool = False) -> dict:
    """Fetch a page, answer it (with one card wrong when `slip`), submit; returns the server's answer."""
    query = urllib.parse.urlencode({"strategy": strategy, "batch_size": batch_size})
    page = call(f"{base}/api/next_batch?{query}")
    answers = [{"id": item["id"], "label": truth[item["id"]]} for item in page["items"]]
    if slip:
        answers[0]["label"] = 1 - answers[0]["label"]
    flips = sum(int(item["prob_pos"] >= 0.5) != a["label"] for item, a in zip(page["items"], answers))
    submit = urllib.parse.urlencode({"batch_id": page["batch_id"], "clicks": flips})
    return call(f"{base}/api/submit_labels?{submit}", "POST", answers)


def redo_after_undo(base: str, truth: list[int]) -> dict:
    """Undo the last page and submit it again with the right labels, as the page's undo does."""
    undone = call(f"{base}/api/undo", "POST")
    page = undone["page"]
    answers = [{"id": item["id"], "label": truth[item["id"]]} for item in page["items"]]
    flips = sum(item["label"] != a["label"] for item, a in zip(page["items"], answers))
    submit = urllib.parse.urlencode({"batch_id": page["batch_id"], "clicks": flips})
    return call(f"{base}/api/submit_labels?{submit}", "POST", answers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--attributes", required=True)
    parser.add_argument("--attribute", default="Smiling")
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=24)
    parser.add_argument("--strategy", default="hybrid")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    truth = read_column(args.attributes, args.attribute)
    wait_ready(base)
    for page in range(args.pages):
        slip = page == 3
        answer = label_page(base, truth, args.strategy, args.batch_size, slip=slip)
        if slip:
            answer = redo_after_undo(base, truth)
        print(f"page {page + 1}: {answer['counts']}")
    state = call(f"{base}/api/state")
    print(json.dumps({"counts": state["counts"], "estimates": state["estimates"]}, indent=1))


if __name__ == "__main__":
    main()
