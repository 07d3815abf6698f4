"""The task heads: MaskedLM (both checkpoint namings), sequence classification (single-label, multi-label,
regression), token classification and extractive question answering."""

from __future__ import annotations

from typing import Optional

import keras
import tensorflow as tf

from deberta_core import DebertaConfig, ModelOutput
from deberta_core.outputs import IGNORE_INDEX, pack_head_outputs

from .activations import get_activation
from .embeddings import DebertaLayerNorm
from .modeling import TFDebertaModel, TFDebertaPreTrainedModel
from .utils import (
    SublayerContainer, cross_entropy, initializer, mse_loss, resize_variable, shape_list, unpack_inputs, validate_labels,
)


# ---------------------------------------------------------------------------------------------- losses
# Each loss checks its labels first (deberta_core.validation: what each head accepts, and why), and is the mean
# over the labels that are not ignored: 0, with zero gradient, when a batch has none (utils.cross_entropy).
def masked_lm_loss(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Cross-entropy over the vocabulary at every position whose label is not IGNORE_INDEX; labels [b, s] in
    [0, vocab_size) or IGNORE_INDEX."""
    _, checked = validate_labels("masked_lm", logits, labels=labels)
    return cross_entropy(tf.reshape(logits, [-1, shape_list(logits)[-1]]), tf.reshape(checked["labels"], [-1]))


def sequence_classification_loss(logits: tf.Tensor, labels: tf.Tensor, config: DebertaConfig) -> tf.Tensor:
    """The reference's loss for each problem_type, and its problem_type=None rules; the labels each accepts (and
    the soft targets of problem_type=None) are deberta_core.validation's."""
    problem, checked = validate_labels("sequence_classification", logits, config.problem_type, labels=labels)
    labels = checked["labels"]
    if problem == "regression":
        if config.num_labels == 1:
            return mse_loss(tf.reshape(logits, [-1]), tf.reshape(labels, [-1]))
        return mse_loss(logits, labels)
    if problem == "single_label_classification":
        # A negative label is ignored (with problem_type unset, the reference's labels >= 0 filter).
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int64)
        return cross_entropy(logits, tf.where(labels < 0, tf.cast(IGNORE_INDEX, tf.int64), labels))
    if problem == "multi_label_classification":
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(labels, tf.float32),
                                                                      logits=tf.cast(logits, tf.float32)))
    # Soft targets: a distribution over the labels per example.
    return -tf.reduce_mean(tf.reduce_sum(tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
                                         * tf.cast(labels, tf.float32), axis=-1))


def token_classification_loss(logits: tf.Tensor, labels: tf.Tensor, num_labels: int) -> tf.Tensor:
    """Cross-entropy per token, over the positions whose label is not IGNORE_INDEX; labels [b, s] in
    [0, num_labels) or IGNORE_INDEX."""
    _, checked = validate_labels("token_classification", logits, labels=labels)
    return cross_entropy(tf.reshape(logits, [-1, num_labels]), tf.reshape(checked["labels"], [-1]))


def question_answering_loss(start_logits: tf.Tensor, end_logits: tf.Tensor, start_positions: tf.Tensor,
                            end_positions: tf.Tensor) -> tf.Tensor:
    """Mean of the start and end cross-entropies. Positions are integers >= 0, [b] or [b, 1]; one at or beyond
    the sequence length s is clamped to s and ignored (as the reference)."""
    _, checked = validate_labels("question_answering", start_logits, start_positions=start_positions,
                                 end_positions=end_positions)
    start_positions, end_positions = checked["start_positions"], checked["end_positions"]
    ignored_index = shape_list(start_logits)[1]
    start_positions = tf.clip_by_value(tf.cast(tf.reshape(start_positions, [-1]), tf.int64), 0, tf.cast(ignored_index, tf.int64))
    end_positions = tf.clip_by_value(tf.cast(tf.reshape(end_positions, [-1]), tf.int64), 0, tf.cast(ignored_index, tf.int64))
    start_loss = cross_entropy(start_logits, start_positions, ignore_index=ignored_index)
    end_loss = cross_entropy(end_logits, end_positions, ignore_index=ignored_index)
    return (start_loss + end_loss) / 2


# ---------------------------------------------------------------------------------------------- MaskedLM
class LegacyDebertaPredictionHeadTransform(SublayerContainer):
    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(config.embedding_size, kernel_initializer=initializer(config), name="dense",
                                        dtype=self.dtype_policy)
        self.transform_act_fn = get_activation(config.hidden_act)
        self.LayerNorm = DebertaLayerNorm(epsilon=config.layer_norm_eps, name="LayerNorm", dtype=self.dtype_policy)


    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        hidden_states = self.dense(hidden_states)
        hidden_states = self.transform_act_fn(hidden_states)
        hidden_states = self.LayerNorm(hidden_states)
        return hidden_states


class LegacyDebertaLMPredictionHead(keras.layers.Layer):
    """The reference's ``cls.predictions`` head; the decoder is the word embedding matrix (tied, not stored)."""

    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.transform = LegacyDebertaPredictionHeadTransform(config, name="transform", dtype=self.dtype_policy)
        self.vocab_size = config.vocab_size  # twin: weights-in-build

    def build(self, input_shape=None) -> None:
        self.bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros", name="bias")
        self.built = True

    def call(self, hidden_states: tf.Tensor, word_embeddings: tf.Tensor) -> tf.Tensor:
        hidden_states = self.transform(hidden_states)  # [b, s, E]
        return tf.matmul(hidden_states, word_embeddings, transpose_b=True) + self.bias  # [b, s, vocab]


class LegacyDebertaOnlyMLMHead(SublayerContainer):
    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.predictions = LegacyDebertaLMPredictionHead(config, name="predictions", dtype=self.dtype_policy)


    def call(self, sequence_output: tf.Tensor, word_embeddings: tf.Tensor) -> tf.Tensor:
        return self.predictions(sequence_output, word_embeddings)


class DebertaLMPredictionHead(keras.layers.Layer):
    """The original checkpoints' ``lm_predictions.lm_head`` naming; same math as the legacy head."""

    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(config.embedding_size, kernel_initializer=initializer(config), name="dense",
                                        dtype=self.dtype_policy)
        self.transform_act_fn = get_activation(config.hidden_act)
        self.LayerNorm = DebertaLayerNorm(epsilon=config.layer_norm_eps, name="LayerNorm", dtype=self.dtype_policy)
        self.vocab_size = config.vocab_size  # twin: weights-in-build

    def build(self, input_shape=None) -> None:
        self.bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros", name="bias")
        self.built = True

    def call(self, hidden_states: tf.Tensor, word_embeddings: tf.Tensor) -> tf.Tensor:
        hidden_states = self.dense(hidden_states)
        hidden_states = self.transform_act_fn(hidden_states)
        hidden_states = self.LayerNorm(hidden_states)  # [b, s, E]
        return tf.matmul(hidden_states, word_embeddings, transpose_b=True) + self.bias  # [b, s, vocab]


class DebertaOnlyMLMHead(SublayerContainer):
    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lm_head = DebertaLMPredictionHead(config, name="lm_head", dtype=self.dtype_policy)


    def call(self, sequence_output: tf.Tensor, word_embeddings: tf.Tensor) -> tf.Tensor:
        return self.lm_head(sequence_output, word_embeddings)


@keras.saving.register_keras_serializable(package="deberta_tf")
class TFDebertaForMaskedLM(TFDebertaPreTrainedModel):
    """DeBERTa with the masked-LM head: a transform (dense, activation, LayerNorm) then the word embedding matrix (tied)
    plus a bias, logits over the vocabulary at every position. Loads both checkpoint namings: the reference's
    ``cls.predictions`` and the original ``lm_predictions.lm_head`` (``config.use_legacy_mlm_head``). With
    ``config.enhanced_mask_decoder`` the head reads the enhanced mask decoder's output.

    Args:
        config: the model's configuration (a ``DebertaConfig``).
        **kwargs: Keras layer arguments (``name``, ``dtype``: a dtype policy such as ``"mixed_bfloat16"``).
    """

    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self.legacy = config.use_legacy_mlm_head
        self.enhanced_mask_decoder = config.enhanced_mask_decoder
        self.deberta = TFDebertaModel(config, name="deberta", dtype=self.dtype_policy)
        if self.legacy:
            self.cls = LegacyDebertaOnlyMLMHead(config, name="cls", dtype=self.dtype_policy)
        else:
            self.lm_predictions = DebertaOnlyMLMHead(config, name="lm_predictions", dtype=self.dtype_policy)

    @property
    def output_bias(self):
        return self.cls.predictions.bias if self.legacy else self.lm_predictions.lm_head.bias

    def get_output_embeddings(self):
        """The decoder is tied to the input embeddings (the original DeBERTa design)."""
        return self.get_input_embeddings()

    def _resize_output_bias(self, new_num_tokens: int) -> None:
        head = self.cls.predictions if self.legacy else self.lm_predictions.lm_head
        resize_variable(head, "bias", new_num_tokens, "zeros")
        head.vocab_size = new_num_tokens

    def task_loss(self, labels, outputs: ModelOutput) -> tf.Tensor:
        """The head's loss for ``labels`` given as Keras ``y``: as ``call`` computes it.

        Args:
            labels: as ``call``'s ``labels``.
            outputs: the model's outputs (``logits`` is read).

        Returns:
            The loss, a scalar.
        """
        return masked_lm_loss(outputs["logits"], labels)

    @unpack_inputs
    def call(
        self,
        input_ids: Optional[tf.Tensor] = None,
        attention_mask: Optional[tf.Tensor] = None,
        token_type_ids: Optional[tf.Tensor] = None,
        position_ids: Optional[tf.Tensor] = None,
        inputs_embeds: Optional[tf.Tensor] = None,
        labels: Optional[tf.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
        training: bool = False,
    ):
        """Logits over the vocabulary at every position; the masked-LM loss with ``labels``. Takes the input forms
        ``TFDebertaModel.call`` takes.

        Args:
            input_ids: token ids [b, s]; or ``inputs_embeds`` [b, s, E] instead. The rules for these inputs (dtypes,
                ranges, defaults) are ``TFDebertaModel.call``'s.
            attention_mask: 1 for a token, 0 for padding, [b, s]; default all ones.
            token_type_ids: segment ids [b, s]; default zeros.
            position_ids: absolute positions [b, s] or [1, s]; default 0 .. s-1.
            inputs_embeds: word embeddings [b, s, E], instead of ``input_ids``.
            labels: the token id to predict [b, s] in [0, vocab_size), or -100 where nothing is predicted.
            output_attentions: also return the attention probabilities, [b, h, s, s] per layer.
            output_hidden_states: also return the hidden states, [b, s, e] per layer and the embedding output.
            return_dict: a ``ModelOutput`` (default ``config.return_dict``), else a tuple.
            training: run dropout (Keras sets it in ``fit``).

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
            output_hidden_states=output_hidden_states or self.enhanced_mask_decoder, return_dict=True, training=training,
        )
        sequence_output = outputs.last_hidden_state
        if self.enhanced_mask_decoder:
            # Keys and values: the second-to-last layer's output H(L-1) (the last layer's own output is unused).
            sequence_output = self.deberta.enhanced_mask_decoder(outputs.hidden_states[-2], attention_mask, position_ids,
                                                                 training=training)
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
class ContextPooler(SublayerContainer):
    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        config.validate_pooler()
        self.dense = keras.layers.Dense(config.pooler_hidden_size, kernel_initializer=initializer(config), name="dense",
                                        dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(config.pooler_dropout, name="dropout", dtype=self.dtype_policy)
        self.activation = get_activation(config.pooler_hidden_act)


    def call(self, hidden_states: tf.Tensor, training: bool = False) -> tf.Tensor:
        context_token = hidden_states[:, 0]  # [b, e]: the [CLS] position
        context_token = self.dropout(context_token, training=training)
        pooled_output = self.dense(context_token)
        pooled_output = self.activation(pooled_output)
        return pooled_output


@keras.saving.register_keras_serializable(package="deberta_tf")
class TFDebertaForSequenceClassification(TFDebertaPreTrainedModel):
    """DeBERTa with a classification / regression head on the first token: the pooler (dropout, dense, activation),
    dropout, then a linear layer to ``config.num_labels`` outputs. The loss follows ``config.problem_type``
    (regression, single- or multi-label classification), as the reference.

    Args:
        config: the model's configuration (a ``DebertaConfig``).
        **kwargs: Keras layer arguments (``name``, ``dtype``: a dtype policy such as ``"mixed_bfloat16"``).
    """

    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self.num_labels = config.num_labels
        self.deberta = TFDebertaModel(config, name="deberta", dtype=self.dtype_policy)
        self.pooler = ContextPooler(config, name="pooler", dtype=self.dtype_policy)
        self.classifier = keras.layers.Dense(config.num_labels, kernel_initializer=initializer(config), name="classifier",
                                             dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(config.classifier_dropout, name="cls_dropout", dtype=self.dtype_policy)

    def task_loss(self, labels, outputs: ModelOutput) -> tf.Tensor:
        """The head's loss for ``labels`` given as Keras ``y``: as ``call`` computes it.

        Args:
            labels: as ``call``'s ``labels``.
            outputs: the model's outputs (``logits`` is read).

        Returns:
            The loss, a scalar.
        """
        return sequence_classification_loss(outputs["logits"], labels, self.config)

    @unpack_inputs
    def call(
        self,
        input_ids: Optional[tf.Tensor] = None,
        attention_mask: Optional[tf.Tensor] = None,
        token_type_ids: Optional[tf.Tensor] = None,
        position_ids: Optional[tf.Tensor] = None,
        inputs_embeds: Optional[tf.Tensor] = None,
        labels: Optional[tf.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
        training: bool = False,
    ):
        """Logits per sequence; the loss of ``config.problem_type`` with ``labels``. Takes the input forms
        ``TFDebertaModel.call`` takes.

        Args:
            input_ids: token ids [b, s]; or ``inputs_embeds`` [b, s, E] instead. The rules for these inputs (dtypes,
                ranges, defaults) are ``TFDebertaModel.call``'s.
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
            training: run dropout (Keras sets it in ``fit``).

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
            output_hidden_states=output_hidden_states, return_dict=True, training=training,
        )
        pooled_output = self.pooler(outputs.last_hidden_state, training=training)
        pooled_output = self.dropout(pooled_output, training=training)
        logits = self.classifier(pooled_output)  # [b, num_labels]
        loss = None if labels is None else sequence_classification_loss(logits, labels, self.config)
        return pack_head_outputs(return_dict, loss, {"logits": logits}, outputs)


@keras.saving.register_keras_serializable(package="deberta_tf")
class TFDebertaForTokenClassification(TFDebertaPreTrainedModel):
    """DeBERTa with a token classification head: dropout, then a linear layer to ``config.num_labels`` outputs at every
    position.

    Args:
        config: the model's configuration (a ``DebertaConfig``).
        **kwargs: Keras layer arguments (``name``, ``dtype``: a dtype policy such as ``"mixed_bfloat16"``).
    """

    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self.num_labels = config.num_labels
        self.deberta = TFDebertaModel(config, name="deberta", dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob, name="dropout", dtype=self.dtype_policy)
        self.classifier = keras.layers.Dense(config.num_labels, kernel_initializer=initializer(config), name="classifier",
                                             dtype=self.dtype_policy)

    def task_loss(self, labels, outputs: ModelOutput) -> tf.Tensor:
        """The head's loss for ``labels`` given as Keras ``y``: as ``call`` computes it.

        Args:
            labels: as ``call``'s ``labels``.
            outputs: the model's outputs (``logits`` is read).

        Returns:
            The loss, a scalar.
        """
        return token_classification_loss(outputs["logits"], labels, self.num_labels)

    @unpack_inputs
    def call(
        self,
        input_ids: Optional[tf.Tensor] = None,
        attention_mask: Optional[tf.Tensor] = None,
        token_type_ids: Optional[tf.Tensor] = None,
        position_ids: Optional[tf.Tensor] = None,
        inputs_embeds: Optional[tf.Tensor] = None,
        labels: Optional[tf.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
        training: bool = False,
    ):
        """Logits per token; the cross-entropy loss with ``labels``. Takes the input forms ``TFDebertaModel.call``
        takes.

        Args:
            input_ids: token ids [b, s]; or ``inputs_embeds`` [b, s, E] instead. The rules for these inputs (dtypes,
                ranges, defaults) are ``TFDebertaModel.call``'s.
            attention_mask: 1 for a token, 0 for padding, [b, s]; default all ones.
            token_type_ids: segment ids [b, s]; default zeros.
            position_ids: absolute positions [b, s] or [1, s]; default 0 .. s-1.
            inputs_embeds: word embeddings [b, s, E], instead of ``input_ids``.
            labels: class ids [b, s] in [0, num_labels), or -100 where a token has no label.
            output_attentions: also return the attention probabilities, [b, h, s, s] per layer.
            output_hidden_states: also return the hidden states, [b, s, e] per layer and the embedding output.
            return_dict: a ``ModelOutput`` (default ``config.return_dict``), else a tuple.
            training: run dropout (Keras sets it in ``fit``).

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
            output_hidden_states=output_hidden_states, return_dict=True, training=training,
        )
        sequence_output = self.dropout(outputs.last_hidden_state, training=training)
        logits = self.classifier(sequence_output)  # [b, s, num_labels]
        loss = None if labels is None else token_classification_loss(logits, labels, self.num_labels)
        return pack_head_outputs(return_dict, loss, {"logits": logits}, outputs)


@keras.saving.register_keras_serializable(package="deberta_tf")
class TFDebertaForQuestionAnswering(TFDebertaPreTrainedModel):
    """DeBERTa with an extractive question-answering head: a linear layer to start and end logits at every position.

    Args:
        config: the model's configuration (a ``DebertaConfig``).
        **kwargs: Keras layer arguments (``name``, ``dtype``: a dtype policy such as ``"mixed_bfloat16"``).

    Raises:
        ValueError: ``config.num_labels`` is not 2.
    """

    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        if config.num_labels != 2:
            raise ValueError(f"question answering needs num_labels == 2 (start and end logits), got {config.num_labels}")
        self.num_labels = config.num_labels
        self.deberta = TFDebertaModel(config, name="deberta", dtype=self.dtype_policy)
        self.qa_outputs = keras.layers.Dense(config.num_labels, kernel_initializer=initializer(config), name="qa_outputs",
                                             dtype=self.dtype_policy)

    def task_loss(self, labels, outputs: ModelOutput) -> tf.Tensor:
        """The head's loss for the positions given as Keras ``y``: as ``call`` computes it.

        Args:
            labels: a dict with ``start_positions`` and ``end_positions``, or a (start, end) pair, each as
                ``call``'s.
            outputs: the model's outputs (``start_logits`` and ``end_logits`` are read).

        Returns:
            The loss, a scalar.
        """
        if isinstance(labels, dict):
            labels = (labels["start_positions"], labels["end_positions"])
        return question_answering_loss(outputs["start_logits"], outputs["end_logits"], *labels)

    @unpack_inputs
    def call(
        self,
        input_ids: Optional[tf.Tensor] = None,
        attention_mask: Optional[tf.Tensor] = None,
        token_type_ids: Optional[tf.Tensor] = None,
        position_ids: Optional[tf.Tensor] = None,
        inputs_embeds: Optional[tf.Tensor] = None,
        start_positions: Optional[tf.Tensor] = None,
        end_positions: Optional[tf.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
        training: bool = False,
    ):
        """Start and end logits per token; the span loss with ``start_positions`` and ``end_positions``. Takes the input
        forms ``TFDebertaModel.call`` takes.

        Args:
            input_ids: token ids [b, s]; or ``inputs_embeds`` [b, s, E] instead. The rules for these inputs (dtypes,
                ranges, defaults) are ``TFDebertaModel.call``'s.
            attention_mask: 1 for a token, 0 for padding, [b, s]; default all ones.
            token_type_ids: segment ids [b, s]; default zeros.
            position_ids: absolute positions [b, s] or [1, s]; default 0 .. s-1.
            inputs_embeds: word embeddings [b, s, E], instead of ``input_ids``.
            start_positions: the answer's first token [b] or [b, 1], integers >= 0; one at or past s is ignored.
            end_positions: the answer's last token, as ``start_positions``. The loss needs both.
            output_attentions: also return the attention probabilities, [b, h, s, s] per layer.
            output_hidden_states: also return the hidden states, [b, s, e] per layer and the embedding output.
            return_dict: a ``ModelOutput`` (default ``config.return_dict``), else a tuple.
            training: run dropout (Keras sets it in ``fit``).

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
            output_hidden_states=output_hidden_states, return_dict=True, training=training,
        )
        logits = self.qa_outputs(outputs.last_hidden_state)  # [b, s, 2]
        start_logits, end_logits = tf.unstack(logits, axis=-1)  # [b, s] each
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = question_answering_loss(start_logits, end_logits, start_positions, end_positions)
        return pack_head_outputs(return_dict, loss, {"start_logits": start_logits, "end_logits": end_logits}, outputs)
