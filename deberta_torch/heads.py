"""The task heads: MaskedLM (both checkpoint namings), sequence classification (single-label, multi-label,
regression), token classification and extractive question answering."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from deberta_core import DebertaConfig
from deberta_core.outputs import IGNORE_INDEX, pack_head_outputs

from .activations import get_activation
from .embeddings import DebertaLayerNorm
from .modeling import DebertaModel, DebertaPreTrainedModel
from .utils import cross_entropy, mse_loss, validate_labels


# ---------------------------------------------------------------------------------------------- losses
# Each loss checks its labels first (deberta_core.validation: what each head accepts, and why), and is the mean
# over the labels that are not ignored: 0, with zero gradient, when a batch has none (utils.cross_entropy).
def masked_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the vocabulary at every position whose label is not IGNORE_INDEX; labels [b, s] in
    [0, vocab_size) or IGNORE_INDEX."""
    _, checked = validate_labels("masked_lm", logits, labels=labels)
    return cross_entropy(logits.reshape(-1, logits.shape[-1]), checked["labels"].reshape(-1))


def sequence_classification_loss(logits: torch.Tensor, labels: torch.Tensor, config: DebertaConfig) -> torch.Tensor:
    """The reference's loss for each problem_type, and its problem_type=None rules; the labels each accepts (and
    the soft targets of problem_type=None) are deberta_core.validation's."""
    problem, checked = validate_labels("sequence_classification", logits, config.problem_type, labels=labels)
    labels = checked["labels"]
    if problem == "regression":
        if config.num_labels == 1:
            return mse_loss(logits.reshape(-1), labels.reshape(-1))
        return mse_loss(logits, labels)
    if problem == "single_label_classification":
        # A negative label is ignored (with problem_type unset, the reference's labels >= 0 filter).
        labels = labels.reshape(-1).long()
        return cross_entropy(logits, labels.masked_fill(labels < 0, IGNORE_INDEX))
    if problem == "multi_label_classification":
        return F.binary_cross_entropy_with_logits(logits.float(), labels.to(torch.float32))
    # Soft targets: a distribution over the labels per example.
    return -(F.log_softmax(logits.float(), dim=-1) * labels.to(torch.float32)).sum(-1).mean()


def token_classification_loss(logits: torch.Tensor, labels: torch.Tensor, num_labels: int) -> torch.Tensor:
    """Cross-entropy per token, over the positions whose label is not IGNORE_INDEX; labels [b, s] in
    [0, num_labels) or IGNORE_INDEX."""
    _, checked = validate_labels("token_classification", logits, labels=labels)
    return cross_entropy(logits.reshape(-1, num_labels), checked["labels"].reshape(-1))


def question_answering_loss(start_logits: torch.Tensor, end_logits: torch.Tensor, start_positions: torch.Tensor,
                            end_positions: torch.Tensor) -> torch.Tensor:
    """Mean of the start and end cross-entropies. Positions are integers >= 0, [b] or [b, 1]; one at or beyond
    the sequence length s is clamped to s and ignored (as the reference)."""
    _, checked = validate_labels("question_answering", start_logits, start_positions=start_positions,
                                 end_positions=end_positions)
    start_positions, end_positions = checked["start_positions"], checked["end_positions"]
    ignored_index = start_logits.shape[1]
    start_positions = start_positions.reshape(-1).clamp(0, ignored_index)
    end_positions = end_positions.reshape(-1).clamp(0, ignored_index)
    start_loss = cross_entropy(start_logits, start_positions, ignore_index=ignored_index)
    end_loss = cross_entropy(end_logits, end_positions, ignore_index=ignored_index)
    return (start_loss + end_loss) / 2


# ---------------------------------------------------------------------------------------------- MaskedLM
class LegacyDebertaPredictionHeadTransform(nn.Module):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.embedding_size)
        self.transform_act_fn = get_activation(config.hidden_act)
        self.LayerNorm = DebertaLayerNorm(config.embedding_size, eps=config.layer_norm_eps)

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
        self.LayerNorm = DebertaLayerNorm(config.embedding_size, eps=config.layer_norm_eps)
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
    """DeBERTa with the masked-LM head: a transform (dense, activation, LayerNorm) then the word embedding matrix (tied)
    plus a bias, logits over the vocabulary at every position. Loads both checkpoint namings: the reference's
    ``cls.predictions`` and the original ``lm_predictions.lm_head`` (``config.use_legacy_mlm_head``). With
    ``config.enhanced_mask_decoder`` the head reads the enhanced mask decoder's output.

    Args:
        config: the model's configuration (a ``DebertaConfig``).
    """

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
        """Logits over the vocabulary at every position; the masked-LM loss with ``labels``.

        Args:
            input_ids: token ids [b, s]; or ``inputs_embeds`` [b, s, E] instead. The rules for these inputs (dtypes,
                ranges, defaults) are ``DebertaModel.forward``'s.
            attention_mask: 1 for a token, 0 for padding, [b, s]; default all ones.
            token_type_ids: segment ids [b, s]; default zeros.
            position_ids: absolute positions [b, s] or [1, s]; default 0 .. s-1.
            inputs_embeds: word embeddings [b, s, E], instead of ``input_ids``.
            labels: the token id to predict [b, s] in [0, vocab_size), or -100 where nothing is predicted.
            output_attentions: also return the attention probabilities, [b, h, s, s] per layer.
            output_hidden_states: also return the hidden states, [b, s, e] per layer and the embedding output.
            return_dict: a ``ModelOutput`` (default ``config.return_dict``), else a tuple.

        Returns:
            A ``ModelOutput``: ``loss`` (a scalar: the mean cross-entropy over the labels that are not -100; 0 when
            all are) with ``labels``, ``logits`` [b, s, vocab_size], then ``hidden_states`` and ``attentions`` when
            asked for (as the base model's); without ``return_dict``, the tuple of the same fields.

        Raises:
            ValueError: an input the base model refuses, or labels the head's loss does not accept (docs/errors.md).
        """
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
        loss = None if labels is None else masked_lm_loss(prediction_scores, labels)
        return pack_head_outputs(return_dict, loss, {"logits": prediction_scores}, outputs)


# ---------------------------------------------------------------------------------------------- pooling
class ContextPooler(nn.Module):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        config.validate_pooler()
        self.dense = nn.Linear(config.pooler_hidden_size, config.pooler_hidden_size)
        self.dropout = nn.Dropout(config.pooler_dropout)
        self.activation = get_activation(config.pooler_hidden_act)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        context_token = hidden_states[:, 0]  # [b, e]: the [CLS] position
        context_token = self.dropout(context_token)
        pooled_output = self.dense(context_token)
        pooled_output = self.activation(pooled_output)
        return pooled_output


class DebertaForSequenceClassification(DebertaPreTrainedModel):
    """DeBERTa with a classification / regression head on the first token: the pooler (dropout, dense, activation),
    dropout, then a linear layer to ``config.num_labels`` outputs. The loss follows ``config.problem_type``
    (regression, single- or multi-label classification), as the reference.

    Args:
        config: the model's configuration (a ``DebertaConfig``).
    """

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
        """Logits per sequence; the loss of ``config.problem_type`` with ``labels``.

        Args:
            input_ids: token ids [b, s]; or ``inputs_embeds`` [b, s, E] instead. The rules for these inputs (dtypes,
                ranges, defaults) are ``DebertaModel.forward``'s.
            attention_mask: 1 for a token, 0 for padding, [b, s]; default all ones.
            token_type_ids: segment ids [b, s]; default zeros.
            position_ids: absolute positions [b, s] or [1, s]; default 0 .. s-1.
            inputs_embeds: word embeddings [b, s, E], instead of ``input_ids``.
            labels: integer class ids [b] in [0, num_labels) (a negative one is ignored when problem_type is unset);
                numbers [b] for regression (num_labels == 1); 0/1 [b, num_labels] with
                problem_type="multi_label_classification"; float soft targets [b, num_labels] (each row a
                distribution) with problem_type unset.
            output_attentions: also return the attention probabilities, [b, h, s, s] per layer.
            output_hidden_states: also return the hidden states, [b, s, e] per layer and the embedding output.
            return_dict: a ``ModelOutput`` (default ``config.return_dict``), else a tuple.

        Returns:
            A ``ModelOutput``: ``loss`` (a scalar: cross-entropy, mean squared error or binary cross-entropy) with
            ``labels``, ``logits`` [b, num_labels], then ``hidden_states`` and ``attentions`` when asked for (as the
            base model's); without ``return_dict``, the tuple of the same fields.

        Raises:
            ValueError: an input the base model refuses, or labels the head's loss does not accept (docs/errors.md).
        """
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
        return pack_head_outputs(return_dict, loss, {"logits": logits}, outputs)


class DebertaForTokenClassification(DebertaPreTrainedModel):
    """DeBERTa with a token classification head: dropout, then a linear layer to ``config.num_labels`` outputs at every
    position.

    Args:
        config: the model's configuration (a ``DebertaConfig``).
    """

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
        """Logits per token; the cross-entropy loss with ``labels``.

        Args:
            input_ids: token ids [b, s]; or ``inputs_embeds`` [b, s, E] instead. The rules for these inputs (dtypes,
                ranges, defaults) are ``DebertaModel.forward``'s.
            attention_mask: 1 for a token, 0 for padding, [b, s]; default all ones.
            token_type_ids: segment ids [b, s]; default zeros.
            position_ids: absolute positions [b, s] or [1, s]; default 0 .. s-1.
            inputs_embeds: word embeddings [b, s, E], instead of ``input_ids``.
            labels: class ids [b, s] in [0, num_labels), or -100 where a token has no label.
            output_attentions: also return the attention probabilities, [b, h, s, s] per layer.
            output_hidden_states: also return the hidden states, [b, s, e] per layer and the embedding output.
            return_dict: a ``ModelOutput`` (default ``config.return_dict``), else a tuple.

        Returns:
            A ``ModelOutput``: ``loss`` (a scalar: the mean cross-entropy over the labels that are not -100; 0 when
            all are) with ``labels``, ``logits`` [b, s, num_labels], then ``hidden_states`` and ``attentions`` when
            asked for (as the base model's); without ``return_dict``, the tuple of the same fields.

        Raises:
            ValueError: an input the base model refuses, or labels the head's loss does not accept (docs/errors.md).
        """
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.deberta(
            input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, position_ids=position_ids,
            inputs_embeds=inputs_embeds, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states, return_dict=True,
        )
        sequence_output = self.dropout(outputs.last_hidden_state)
        logits = self.classifier(sequence_output)  # [b, s, num_labels]
        loss = None if labels is None else token_classification_loss(logits, labels, self.num_labels)
        return pack_head_outputs(return_dict, loss, {"logits": logits}, outputs)


class DebertaForQuestionAnswering(DebertaPreTrainedModel):
    """DeBERTa with an extractive question-answering head: a linear layer to start and end logits at every position.

    Args:
        config: the model's configuration (a ``DebertaConfig``).

    Raises:
        ValueError: ``config.num_labels`` is not 2.
    """

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
        """Start and end logits per token; the span loss with ``start_positions`` and ``end_positions``.

        Args:
            input_ids: token ids [b, s]; or ``inputs_embeds`` [b, s, E] instead. The rules for these inputs (dtypes,
                ranges, defaults) are ``DebertaModel.forward``'s.
            attention_mask: 1 for a token, 0 for padding, [b, s]; default all ones.
            token_type_ids: segment ids [b, s]; default zeros.
            position_ids: absolute positions [b, s] or [1, s]; default 0 .. s-1.
            inputs_embeds: word embeddings [b, s, E], instead of ``input_ids``.
            start_positions: the answer's first token [b] or [b, 1], integers >= 0; one at or past s is ignored.
            end_positions: the answer's last token, as ``start_positions``. The loss needs both.
            output_attentions: also return the attention probabilities, [b, h, s, s] per layer.
            output_hidden_states: also return the hidden states, [b, s, e] per layer and the embedding output.
            return_dict: a ``ModelOutput`` (default ``config.return_dict``), else a tuple.

        Returns:
            A ``ModelOutput``: ``loss`` (a scalar: the mean of the start and end cross-entropies) with both
            positions, ``start_logits`` and ``end_logits`` [b, s], then ``hidden_states`` and ``attentions`` when
            asked for (as the base model's); without ``return_dict``, the tuple of the same fields.

        Raises:
            ValueError: an input the base model refuses, or labels the head's loss does not accept (docs/errors.md).
        """
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
            loss = question_answering_loss(start_logits, end_logits, start_positions, end_positions)
        return pack_head_outputs(
            return_dict, loss, {"start_logits": start_logits.contiguous(), "end_logits": end_logits.contiguous()}, outputs
        )
