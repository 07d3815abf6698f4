"""deberta_core: the framework-neutral half of deberta-dual (imports neither torch nor TensorFlow)."""

from .config import DebertaConfig
from .outputs import ModelOutput
from .tokenizer import DebertaTokenizer, DebertaTokenizerFast

__all__ = ["DebertaConfig", "DebertaTokenizer", "DebertaTokenizerFast", "ModelOutput"]
__version__ = "0.1.0"
