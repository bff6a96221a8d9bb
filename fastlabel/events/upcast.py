"""Upcasters: turn a record written by an older release into the current version of its event.

A record's version is its "v" field; records written before versions existed have none and are
version 1. `UPCASTERS[(type, n)]` takes the JSON form of version n to version n + 1; `upcast` applies
them in turn, so a journal of any age loads as current events.
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import InvalidInput

Record = dict[str, Any]
UPCASTERS: dict[tuple[str, int], Callable[[Record], Record]] = {}


def upcaster(kind: str, from_version: int) -> Callable[[Callable[[Record], Record]], Callable[[Record], Record]]:
    """Register the step from `from_version` to `from_version + 1` for events of `kind`."""

    def register(step: Callable[[Record], Record]) -> Callable[[Record], Record]:
        UPCASTERS[(kind, from_version)] = step
        return step

    return register


def record_version(raw: Record) -> int:
    v = raw.get("v", 1)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise InvalidInput(f"event version must be a positive integer, got {v!r:.40}")
    return v


def upcast(raw: Record, current: int) -> Record:
    """`raw` brought to version `current`; a newer record than this release knows is refused."""
    kind, v = raw["type"], record_version(raw)
    if v > current:
        raise InvalidInput(f"a {kind} event of version {v} was written by a newer FastLabel "
                           f"(this one reads up to version {current}); upgrade FastLabel to read it")
    while v < current:
        step = UPCASTERS.get((kind, v))
        if step is None:
            raise InvalidInput(f"no upcaster for {kind} events from version {v}")
        raw = {**step(dict(raw)), "v": v + 1}
        v += 1
    return raw


@upcaster("session_started", 1)
def _session_started_gets_concept(raw: Record) -> Record:
    return {"concept": "positive", **raw}  # a few unversioned records already name one: kept


@upcaster("session_started", 2)
def _session_started_gets_source(raw: Record) -> Record:
    return {**raw, "source": None, "encoder_config": None}  # not recorded: commands ask for data flags


@upcaster("labels_submitted", 1)
def _labels_submitted_gets_request_id(raw: Record) -> Record:
    return {**raw, "request_id": None}


@upcaster("submission_undone", 1)
def _submission_undone_gets_request_id(raw: Record) -> Record:
    return {**raw, "request_id": None}


# Labelers: every record written before there were users was made by the one person then, "owner".
@upcaster("batch_served", 1)
def _batch_served_gets_labeler(raw: Record) -> Record:
    return {**raw, "labeler": "owner", "overlap": []}


@upcaster("labels_submitted", 2)
def _labels_submitted_gets_labeler(raw: Record) -> Record:
    return {**raw, "labeler": "owner"}


@upcaster("labels_corrected", 1)
def _labels_corrected_gets_labeler(raw: Record) -> Record:
    return {**raw, "labeler": "owner"}


@upcaster("submission_undone", 2)
def _submission_undone_gets_labeler(raw: Record) -> Record:
    return {**raw, "labeler": "owner"}


@upcaster("query_set", 1)
def _query_set_gets_type(raw: Record) -> Record:
    return {**raw, "query_type": "text", "bias": 0.0}  # every query before class queries was a text query


@upcaster("query_set", 2)
def _query_set_gets_labeler(raw: Record) -> Record:
    return {**raw, "labeler": "owner"}
