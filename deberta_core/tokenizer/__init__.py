"""deberta_core.tokenizer: DeBERTa (v1)'s byte-level BPE and DeBERTa-v2/v3's SentencePiece Unigram on the Rust
``tokenizers`` library, with the reference API. (What follows is about v1; the v2/v3 tokenizer is described in
tokenizer_v2.py and docs/tokenizer.md.)

The encoding behaviour is that of the reference library's 4.x ``DebertaTokenizerFast`` (same Rust pipeline:
ByteLevel pre-tokenizer, BPE model, ``[CLS] A [SEP]`` / ``[CLS] A [SEP] B [SEP]`` template with token types
0 for ``[CLS] A [SEP]`` and 1 for ``B [SEP]``, ``[MASK]`` absorbing the whitespace before it), with three
deliberate differences, all documented in docs/tokenizer.md:

- an empty ``text_pair`` is still a pair (``[CLS] A [SEP] [SEP]``), as in the original DeBERTa code and the
  reference slow tokenizer (the reference fast tokenizer silently drops an empty pair on single inputs);
- user mistakes raise ValueError/TypeError/FileNotFoundError instead of asserting, warning or being ignored
  (``max_length`` too small for the special tokens, ragged tensors, bad batch items, bad files);
- ``return_tensors='np'`` on ragged rows raises instead of building an object array.

The package: ``batch_encoding`` (the output and its tensors), ``vocab_files`` (the embedded files and the
readers), ``options`` (padding/truncation resolution and input validation), ``base`` (TokenizerBase: the API both
classes share), ``tokenizer`` (DebertaTokenizer), ``spm_model`` (the spm.model protobuf reader and writer),
``tokenizer_v2`` (DebertaV2Tokenizer).

Importing this package imports neither torch, TensorFlow nor transformers; ``return_tensors='pt'``/``'tf'``
import their framework inside the call that asks for it.
"""

from .batch_encoding import BatchEncoding
from .options import PADDING_STRATEGIES, SIDES, TRUNCATION_STRATEGIES
from .tokenizer import (
    DEFAULT_MODEL_MAX_LENGTH, DEFAULT_SPECIAL_TOKENS, DebertaTokenizer, DebertaTokenizerFast, clean_up_tokenization,
)
from .tokenizer_v2 import DebertaV2Tokenizer, DebertaV2TokenizerFast
from .vocab_files import ASSETS_DIR, EMBEDDED_NAMES

__all__ = [
    "ASSETS_DIR", "DEFAULT_MODEL_MAX_LENGTH", "DEFAULT_SPECIAL_TOKENS", "EMBEDDED_NAMES", "PADDING_STRATEGIES", "SIDES",
    "TRUNCATION_STRATEGIES", "BatchEncoding", "DebertaTokenizer", "DebertaTokenizerFast", "DebertaV2Tokenizer",
    "DebertaV2TokenizerFast", "clean_up_tokenization",
]
