"""FastLabel: binary image labeling with active learning on frozen embeddings."""

__version__ = "0.1.0"
