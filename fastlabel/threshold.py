"""The decision threshold: a probability at or above it is a positive, for the model, the
estimates, the exports and the page (which reads it from /api/state)."""

THRESHOLD = 0.5
