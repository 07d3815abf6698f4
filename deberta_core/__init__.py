"""deberta_core: the framework-neutral half of deberta-dual (imports neither torch nor TensorFlow)."""

from .config import DebertaConfig
from .outputs import ModelOutput

__all__ = ["DebertaConfig", "ModelOutput"]
__version__ = "0.1.0"
