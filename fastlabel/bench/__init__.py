"""Simulated labeling benchmarks: the app's own session loop, answered from ground-truth attributes.

`split` holds out a test set (by person when identities are known), `simulate` runs a strategy
page by page through `LabelingSession`, `effort` turns pages into clicks, `metrics` scores the
held-out set, `runner` loops over seeds x attributes x strategies, `report` and `plots` write
the files, `against` compares a recorded session with other strategies, and `command` is what
the CLI calls.
"""
