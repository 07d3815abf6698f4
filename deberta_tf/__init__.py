"""deberta_tf: DeBERTa (v1) in Keras 3 on TensorFlow, weight-compatible with the reference tf_model.h5 and torch
checkpoints. Importing it changes no process-wide setting (dtype policy, threads, logging)."""

from deberta_core import DebertaConfig

from .heads import (
    TFDebertaForMaskedLM,
    TFDebertaForQuestionAnswering,
    TFDebertaForSequenceClassification,
    TFDebertaForTokenClassification,
)
from .io import CheckpointLoadError
from .modeling import TFDebertaModel, TFDebertaPreTrainedModel

__all__ = [
    "CheckpointLoadError",
    "DebertaConfig",
    "TFDebertaModel",
    "TFDebertaPreTrainedModel",
    "TFDebertaForMaskedLM",
    "TFDebertaForSequenceClassification",
    "TFDebertaForTokenClassification",
    "TFDebertaForQuestionAnswering",
]
