"""deberta_torch: DeBERTa (v1) in PyTorch, state-dict compatible with the reference implementation."""

from deberta_core import DebertaConfig

from .heads import (
    DebertaForMaskedLM,
    DebertaForQuestionAnswering,
    DebertaForSequenceClassification,
    DebertaForTokenClassification,
)
from .io import CheckpointLoadError
from .modeling import DebertaModel, DebertaPreTrainedModel

__all__ = [
    "CheckpointLoadError",
    "DebertaConfig",
    "DebertaModel",
    "DebertaPreTrainedModel",
    "DebertaForMaskedLM",
    "DebertaForSequenceClassification",
    "DebertaForTokenClassification",
    "DebertaForQuestionAnswering",
]
