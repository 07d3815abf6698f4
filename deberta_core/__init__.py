"""deberta_core: the framework-neutral half of deberta-dual (imports neither torch nor TensorFlow)."""

from .config import DebertaConfig
from .outputs import ModelOutput
from .tokenizer import DebertaTokenizer, DebertaTokenizerFast, DebertaV2Tokenizer, DebertaV2TokenizerFast

__all__ = ["DebertaConfig", "DebertaTokenizer", "DebertaTokenizerFast", "DebertaV2Tokenizer", "DebertaV2TokenizerFast",
           "ModelOutput"]
__version__ = "0.1.0"
