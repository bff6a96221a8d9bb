"""Data sources (sprite sheets, image folders), their ground-truth CSVs, and offline demo data."""

from fastlabel.data.attributes import Attributes, read_attributes, read_identities
from fastlabel.data.demo import DemoData, make_demo
from fastlabel.data.folder import ImageFolder
from fastlabel.data.sources import ImageSource, SpriteSheet, load_source, parse_grid

__all__ = [
    "Attributes",
    "DemoData",
    "ImageFolder",
    "ImageSource",
    "SpriteSheet",
    "load_source",
    "make_demo",
    "parse_grid",
    "read_attributes",
    "read_identities",
]
