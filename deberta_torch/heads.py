"""The task heads: MaskedLM (both checkpoint namings), sequence classification (single-label, multi-label,
regression), token classification and extractive question answering."""

from __future__ import annotations

import logging
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from deberta_core import DebertaConfig, ModelOutput

from .activations import get_activation
from deberta_core.weight_map import mlm_config_for_weights

from .io import CheckpointLoadError
from .modeling import DebertaModel, DebertaPreTrainedModel

logger = logging.getLogger("deberta_torch")

IGNORE_INDEX = -100  # label value ignored by every token-level loss (as the reference)


def _pack(return_dict: bool, loss, main: dict, outputs: ModelOutput):
    result = ModelOutput(loss=loss, **main, hidden_states=outputs.hidden_states, attentions=outputs.attentions)
    return result if return_dict else result.to_tuple()


# ---------------------------------------------------------------------------------------------- MaskedLM
class LegacyDebertaPredictionHeadTransform(nn.Module):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.embedding_size)
        self.transform_act_fn = get_activation(config.hidden_act)
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dense(hidden_states)
        hidden_states = self.transform_act_fn(hidden_states)
        hidden_states = self.LayerNorm(hidden_states)
        return hidden_states


class LegacyDebertaLMPredictionHead(nn.Module):
    """The reference's ``cls.predictions`` head; the decoder is the word embedding matrix (tied, not stored)."""

    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        self.transform = LegacyDebertaPredictionHeadTransform(config)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden_states: torch.Tensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        hidden_states = self.transform(hidden_states)  # [b, s, E]
        return F.linear(hidden_states, word_embeddings, self.bias)  # [b, s, vocab]


class LegacyDebertaOnlyMLMHead(nn.Module):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        self.predictions = LegacyDebertaLMPredictionHead(config)

    def forward(self, sequence_output: torch.Tensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        return self.predictions(sequence_output, word_embeddings)


class DebertaLMPredictionHead(nn.Module):
    """The original checkpoints' ``lm_predictions.lm_head`` naming; same math as the legacy head."""

    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.embedding_size)
        self.transform_act_fn = get_activation(config.hidden_act)
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden_states: torch.Tensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dense(hidden_states)
        hidden_states = self.transform_act_fn(hidden_states)
        hidden_states = self.LayerNorm(hidden_states)  # [b, s, E]
        return F.linear(hidden_states, word_embeddings, self.bias)  # [b, s, vocab]


class DebertaOnlyMLMHead(nn.Module):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        self.lm_head = DebertaLMPredictionHead(config)

    def forward(self, sequence_output: torch.Tensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        return self.lm_head(sequence_output, word_embeddings)


class DebertaForMaskedLM(DebertaPreTrainedModel):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__(config)
        self.legacy = config.use_legacy_mlm_head
        self.enhanced_mask_decoder = config.enhanced_mask_decoder
        self.deberta = DebertaModel(config)
        if self.legacy:
            self.cls = LegacyDebertaOnlyMLMHead(config)
        else:
            self.lm_predictions = DebertaOnlyMLMHead(config)
        self.post_init()

    @property
    def output_bias(self) -> nn.Parameter:
        return self.cls.predictions.bias if self.legacy else self.lm_predictions.lm_head.bias

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, (LegacyDebertaLMPredictionHead, DebertaLMPredictionHead)):
            nn.init.zeros_(module.bias)

    def get_output_embeddings(self) -> nn.Embedding:
        """The decoder is tied to the input embeddings (the original DeBERTa design)."""
        return self.get_input_embeddings()

    def _resize_output_bias(self, new_num_tokens: int) -> None:
        old = self.output_bias
        new = torch.zeros(new_num_tokens, dtype=old.dtype, device=old.device)
        keep = min(old.numel(), new_num_tokens)
        new[:keep] = old.detach()[:keep]
        head = self.cls.predictions if self.legacy else self.lm_predictions.lm_head
        head.bias = nn.Parameter(new)

    @classmethod
    def _prepare_config_for_state(cls, config: DebertaConfig, state_keys) -> DebertaConfig:
        try:
            chosen = mlm_config_for_weights(config, state_keys)
        except ValueError as err:
            raise CheckpointLoadError(str(err)) from None
        if chosen.legacy is False and config.legacy is None:
            logger.info("checkpoint holds the original lm_predictions.lm_head.* MaskedLM head; using that naming (legacy=False)")
        return chosen

    def forward(
        self,
        input_ids: Optional[torch.Tensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        token_type_ids: Optional[torch.Tensor] = None,
        position_ids: Optional[torch.Tensor] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
    ):
        return_dict = self.config.return_dict if return_dict is None else return_dict
        output_hidden_states = self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        outputs = self.deberta(
            input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, position_ids=position_ids,
            inputs_embeds=inputs_embeds, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states or self.enhanced_mask_decoder, return_dict=True,
        )
        sequence_output = outputs.last_hidden_state
        if self.enhanced_mask_decoder:
            # Keys and values: the second-to-last layer's output H(L-1) (the last layer's own output is unused).
            sequence_output = self.deberta.enhanced_mask_decoder(outputs.hidden_states[-2], attention_mask, position_ids)
            if not output_hidden_states:
                outputs.hidden_states = None
        word_embeddings = self.deberta.embeddings.word_embeddings.weight
        if self.legacy:
            prediction_scores = self.cls(sequence_output, word_embeddings)
        else:
            prediction_scores = self.lm_predictions(sequence_output, word_embeddings)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(
                prediction_scores.reshape(-1, prediction_scores.shape[-1]).float(), labels.reshape(-1),
                ignore_index=IGNORE_INDEX,
            )
        return _pack(return_dict, loss, {"logits": prediction_scores}, outputs)


# ---------------------------------------------------------------------------------------------- pooling
class ContextPooler(nn.Module):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.pooler_hidden_size, config.pooler_hidden_size)
        self.dropout = nn.Dropout(config.pooler_dropout)
        self.activation = get_activation(config.pooler_hidden_act)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        context_token = hidden_states[:, 0]  # [b, e]: the [CLS] position
        context_token = self.dropout(context_token)
        pooled_output = self.dense(context_token)
        pooled_output = self.activation(pooled_output)
        return pooled_output


def sequence_classification_loss(logits: torch.Tensor, labels: torch.Tensor, config: DebertaConfig) -> torch.Tensor:
    """The reference's loss for each problem_type (and its problem_type=None rules)."""
    num_labels = config.num_labels
    problem_type = config.problem_type
    if problem_type is None:
        if num_labels == 1:
            return F.mse_loss(logits.reshape(-1).float(), labels.reshape(-1).float())
        if labels.dim() == 1 or labels.shape[-1] == 1:
            # Rows with a negative label are dropped (the reference's labels >= 0 filter); none left -> 0.
            labels = labels.reshape(-1).long()
            valid = labels >= 0
            loss = F.cross_entropy(logits.float(), labels.masked_fill(~valid, IGNORE_INDEX), ignore_index=IGNORE_INDEX)
            return torch.where(valid.any(), loss, torch.zeros_like(loss))
        # Soft targets: a distribution over the labels per example.
        return -(F.log_softmax(logits.float(), dim=-1) * labels).sum(-1).mean()
    if problem_type == "regression":
        if num_labels == 1:
            return F.mse_loss(logits.squeeze().float(), labels.squeeze().float())
        return F.mse_loss(logits.float(), labels.float())
    if problem_type == "single_label_classification":
        return F.cross_entropy(logits.reshape(-1, num_labels).float(), labels.reshape(-1).long(), ignore_index=IGNORE_INDEX)
    return F.binary_cross_entropy_with_logits(logits.float(), labels.to(torch.float32))


class DebertaForSequenceClassification(DebertaPreTrainedModel):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.deberta = DebertaModel(config)
        self.pooler = ContextPooler(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.post_init()

    def forward(
        self,
        input_ids: Optional[torch.Tensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        token_type_ids: Optional[torch.Tensor] = None,
        position_ids: Optional[torch.Tensor] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
    ):
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.deberta(
            input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, position_ids=position_ids,
            inputs_embeds=inputs_embeds, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states, return_dict=True,
        )
        pooled_output = self.pooler(outputs.last_hidden_state)
        pooled_output = self.dropout(pooled_output)
        logits = self.classifier(pooled_output)  # [b, num_labels]
        loss = None if labels is None else sequence_classification_loss(logits, labels, self.config)
        return _pack(return_dict, loss, {"logits": logits}, outputs)


class DebertaForTokenClassification(DebertaPreTrainedModel):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.deberta = DebertaModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: Optional[torch.Tensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        token_type_ids: Optional[torch.Tensor] = None,
        position_ids: Optional[torch.Tensor] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
    ):
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.deberta(
            input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, position_ids=position_ids,
            inputs_embeds=inputs_embeds, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states, return_dict=True,
        )
        sequence_output = self.dropout(outputs.last_hidden_state)
        logits = self.classifier(sequence_output)  # [b, s, num_labels]
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, self.num_labels).float(), labels.reshape(-1), ignore_index=IGNORE_INDEX)
        return _pack(return_dict, loss, {"logits": logits}, outputs)


class DebertaForQuestionAnswering(DebertaPreTrainedModel):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__(config)
        if config.num_labels != 2:
            raise ValueError(f"question answering needs num_labels == 2 (start and end logits), got {config.num_labels}")
        self.num_labels = config.num_labels
        self.deberta = DebertaModel(config)
        self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: Optional[torch.Tensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        token_type_ids: Optional[torch.Tensor] = None,
        position_ids: Optional[torch.Tensor] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
        start_positions: Optional[torch.Tensor] = None,
        end_positions: Optional[torch.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
    ):
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.deberta(
            input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, position_ids=position_ids,
            inputs_embeds=inputs_embeds, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states, return_dict=True,
        )
        logits = self.qa_outputs(outputs.last_hidden_state)  # [b, s, 2]
        start_logits, end_logits = logits.unbind(dim=-1)  # [b, s] each
        loss = None
        if start_positions is not None and end_positions is not None:
            # Positions outside the sequence are clamped to s and ignored (as the reference).
            ignored_index = start_logits.shape[1]
            start_positions = start_positions.reshape(-1).clamp(0, ignored_index)
            end_positions = end_positions.reshape(-1).clamp(0, ignored_index)
            start_loss = F.cross_entropy(start_logits.float(), start_positions, ignore_index=ignored_index)
            end_loss = F.cross_entropy(end_logits.float(), end_positions, ignore_index=ignored_index)
            loss = (start_loss + end_loss) / 2
        return _pack(
            return_dict, loss, {"start_logits": start_logits.contiguous(), "end_logits": end_logits.contiguous()}, outputs
        )
