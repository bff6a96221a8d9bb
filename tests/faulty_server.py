"""`fastlabel serve` with one injected fault (tests only): SIGKILL to the whole server at a named point.

FASTLABEL_TEST_KILL_AT picks the point, counted from this process's start:
  after_append:<event type>:<n>  the n-th event of that type is journaled (fsync'd), not yet answered
  mid_line:<event type>:<n>      half of the n-th line of that type is written (a torn tail)
  fit:request:<n>                the n-th retrain of the head on a request thread (after a submit or undo)
  fit:load:<n>                   the n-th retrain during start-up (replaying the journal)
FASTLABEL_TEST_SLOW_FIT=<seconds> makes every retrain on a request thread that much slower (a request in flight).
Run: python tests/faulty_server.py serve [serve flags]
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import Counter

KILL_AT = os.environ.get("FASTLABEL_TEST_KILL_AT", "")
SLOW_FIT_S = float(os.environ.get("FASTLABEL_TEST_SLOW_FIT", "0"))
seen: Counter[str] = Counter()


def die() -> None:
    os.killpg(os.getpgid(0), signal.SIGKILL)  # the gunicorn master too: nothing runs after this


def reached(point: str) -> bool:
    seen[point] += 1
    kind, _, n = KILL_AT.rpartition(":")
    return kind == point and seen[point] == int(n)


def arm() -> None:
    from fastlabel.events import log as event_log
    from fastlabel.learner import head

    append, write, fit = event_log.EventLog.append, event_log.EventLog._write, head.Learner.fit

    def append_then_maybe_die(self, kind, **payload):
        event = append(self, kind, **payload)
        if self.journal is not None and reached(f"after_append:{kind.type}"):
            die()
        return event

    def write_half_then_maybe_die(self, line: bytes) -> None:
        kind = line.split(b'"type":"', 1)[1].split(b'"', 1)[0].decode()
        if reached(f"mid_line:{kind}"):
            os.write(self._file.fileno(), line[: len(line) // 2])
            die()
        write(self, line)

    def fit_then_maybe_die(self, *args, **kwargs):
        where = "load" if threading.current_thread().name == "fastlabel-load" else "request"
        if reached(f"fit:{where}"):
            die()
        if SLOW_FIT_S and where == "request":
            time.sleep(SLOW_FIT_S)
        return fit(self, *args, **kwargs)

    event_log.EventLog.append = append_then_maybe_die
    event_log.EventLog._write = write_half_then_maybe_die
    head.Learner.fit = fit_then_maybe_die


if __name__ == "__main__":
    arm()
    from fastlabel.cli import main

    sys.exit(main(sys.argv[1:]))
