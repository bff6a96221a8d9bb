"""PictureCache: each picture drawn once however many ask at once, drawn ahead on workers, failures retried."""

from __future__ import annotations

import threading
import time

import pytest

from fastlabel.data.picture_cache import PictureCache


class Drawer:
    def __init__(self, delay: float = 0.0, fail: set[int] | None = None) -> None:
        self.calls: list[int] = []
        self.threads: set[str] = set()
        self.delay, self.fail = delay, fail or set()
        self.lock = threading.Lock()

    def __call__(self, key: int) -> bytes:
        with self.lock:
            self.calls.append(key)
            self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        if key in self.fail:
            self.fail.discard(key)  # fails once
            raise OSError(f"cannot draw {key}")
        return f"picture {key}".encode()


def test_many_asking_for_one_picture_draw_it_once():
    draw = Drawer(delay=0.05)
    cache = PictureCache(draw, size=10, workers=2)
    got: list[bytes] = []
    threads = [threading.Thread(target=lambda: got.append(cache.get(3))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [b"picture 3"] * 6 and draw.calls == [3]


def test_warmed_pictures_are_drawn_on_the_workers_and_then_served_from_the_cache():
    draw = Drawer(delay=0.02)
    cache = PictureCache(draw, size=10, workers=2, name="test-draw")
    cache.warm([1, 2, 3, 4])
    assert [cache.get(k) for k in (1, 2, 3, 4)] == [b"picture 1", b"picture 2", b"picture 3", b"picture 4"]
    assert sorted(draw.calls) == [1, 2, 3, 4]
    assert draw.threads and all(name.startswith("test-draw") for name in draw.threads)
    cache.warm([1, 2])  # already drawn: nothing queued
    assert cache.get(2) == b"picture 2" and sorted(draw.calls) == [1, 2, 3, 4]


def test_a_failed_drawing_is_not_kept_and_the_next_ask_draws_again():
    draw = Drawer(fail={5})
    cache = PictureCache(draw, size=10, workers=1)
    with pytest.raises(OSError, match="cannot draw 5"):
        cache.get(5)
    assert cache.get(5) == b"picture 5" and draw.calls == [5, 5]


def test_only_the_latest_pictures_are_kept():
    draw = Drawer()
    cache = PictureCache(draw, size=2, workers=1)
    for key in (1, 2, 3):
        cache.get(key)
    assert len(cache) == 2
    cache.get(1)  # evicted: drawn again
    cache.get(3)  # kept
    assert draw.calls == [1, 2, 3, 1]
