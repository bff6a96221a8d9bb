"""The model as an output: the model file (safetensors + JSON metadata), `Classifier`, versions
(one per retrain), classifying new images, and ONNX export."""

from .artifact import FORMAT_VERSION, read_artifact, write_artifact
from .classifier import Classifier

__all__ = ["FORMAT_VERSION", "Classifier", "read_artifact", "write_artifact"]
