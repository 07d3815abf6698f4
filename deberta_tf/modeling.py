"""TFDebertaPreTrainedModel (loading, saving, Keras training/serialisation hooks) and TFDebertaModel (the encoder)."""

from __future__ import annotations

import functools
import inspect
import logging
import os
from typing import Any, Dict, Mapping, Optional, Union

import keras
import numpy as np
import tensorflow as tf

from deberta_core import DebertaConfig, ModelOutput
from deberta_core.files import resolve_checkpoint

from . import io
from .embeddings import DebertaEmbeddings, shape_list
from .encoder import DebertaEncoder

logger = logging.getLogger("deberta_tf")

_HUB_KWARGS = ("cache_dir", "revision", "token", "local_files_only")
# Call arguments that are flags, not tensors (never converted to tensors).
_FLAG_ARGS = ("output_attentions", "output_hidden_states", "return_dict")


def unpack_inputs(call):
    """Accept the reference's input forms on ``call``: keyword arguments; a dict of them as the first argument;
    a list/tuple of tensors in the documented order (the order of ``call``'s parameters); or one tensor of
    input_ids. NumPy arrays and nested lists become tensors."""
    signature = inspect.signature(call)
    names = [name for name in signature.parameters if name not in ("self", "training")]

    @functools.wraps(call)
    def wrapper(self, *args, **kwargs):
        values = signature.bind(self, *args, **kwargs).arguments
        values.pop("self")
        first = values.get(names[0])
        if isinstance(first, Mapping):
            unknown = [key for key in first if key not in names]
            if unknown:
                raise ValueError(f"unknown input name(s) {unknown} for {type(self).__name__}; expected some of {names}")
            twice = [key for key in first if key != names[0] and values.get(key) is not None]
            if twice:
                raise ValueError(f"input(s) {twice} given both in the input dict and as keyword arguments")
            values = {**values, names[0]: None, **first}
        elif isinstance(first, (list, tuple)) and first and not np.isscalar(first[0]) and hasattr(first[0], "shape"):
            if len(first) > len(names):
                raise ValueError(
                    f"{type(self).__name__} takes at most {len(names)} inputs in the order {names}, got {len(first)}"
                )
            twice = [name for name in names[1:len(first)] if values.get(name) is not None]
            if twice:
                raise ValueError(f"input(s) {twice} given both in the input list and as keyword arguments")
            values = {**values, **dict(zip(names, first))}
        for name, value in values.items():
            if name not in _FLAG_ARGS and name != "training" and value is not None and not isinstance(value, tf.Tensor):
                values[name] = tf.convert_to_tensor(value)
        return call(self, **values)

    return wrapper


class TFDebertaPreTrainedModel(keras.Model):
    """Base of every model: ``from_pretrained`` / ``save_pretrained``, Keras training, saving and export hooks."""

    config_class = DebertaConfig
    base_model_prefix = "deberta"

    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(config, DebertaConfig):
            raise TypeError(f"expected a deberta_core.DebertaConfig, got {type(config).__name__}")
        self.config = config

    # ------------------------------------------------------------------ building
    @property
    def dummy_inputs(self) -> Dict[str, tf.Tensor]:
        return {"input_ids": tf.zeros((1, min(2, self.config.max_position_embeddings)), dtype=tf.int32)}

    def build(self, input_shape=None) -> None:
        """Create every variable (one forward pass on dummy inputs), in this model's name scope."""
        if self.built:
            return
        with tf.init_scope():
            self.call(self.dummy_inputs, training=False)
        self.built = True

    def get_build_config(self) -> Dict[str, Any]:
        return {"dummy_inputs": True}

    def build_from_config(self, config: Dict[str, Any]) -> None:
        self.build()

    def save(self, filepath, *args, **kwargs):
        """``keras.Model.save`` (``.keras``), after creating the variables if no call has yet."""
        self.build()
        return super().save(filepath, *args, **kwargs)

    def save_weights(self, filepath, *args, **kwargs):
        self.build()
        return super().save_weights(filepath, *args, **kwargs)

    # ------------------------------------------------------------------ embeddings
    def get_base_model(self) -> "TFDebertaModel":
        """The encoder (torch's ``base_model`` property; a method here, because Keras' saving walks every
        attribute and a property returning the model itself would recurse)."""
        return getattr(self, self.base_model_prefix, self)

    def get_input_embeddings(self):
        return self.get_base_model().embeddings.word_embeddings

    def resize_token_embeddings(self, new_num_tokens: int):
        """Grow or shrink the vocabulary; new rows are initialised like the rest, tied heads follow.
        Call it before compile(): the optimizer's slots are built for the variables it saw."""
        if not isinstance(new_num_tokens, int) or isinstance(new_num_tokens, bool) or new_num_tokens < 1:
            raise ValueError(f"new_num_tokens must be a positive integer, got {new_num_tokens!r}")
        self.build()
        embeddings = self.get_input_embeddings()
        if new_num_tokens == embeddings.num_embeddings:
            return embeddings
        embeddings.resize(new_num_tokens)
        self._resize_output_bias(new_num_tokens)
        self.get_base_model().embeddings.vocab_size = new_num_tokens
        self.config.vocab_size = new_num_tokens
        return embeddings

    def _resize_output_bias(self, new_num_tokens: int) -> None:
        """Heads whose output is tied to the vocabulary override this."""

    # ------------------------------------------------------------------ training helpers
    def gradient_checkpointing_enable(self) -> None:
        """Recompute each layer in the backward pass (tf.recompute_grad). Set it before compile()/fit()."""
        self.get_base_model().encoder.gradient_checkpointing = True

    def gradient_checkpointing_disable(self) -> None:
        self.get_base_model().encoder.gradient_checkpointing = False

    @property
    def is_gradient_checkpointing(self) -> bool:
        return self.get_base_model().encoder.gradient_checkpointing

    def num_parameters(self, only_trainable: bool = False) -> int:
        self.build()
        variables = self.trainable_weights if only_trainable else self.weights
        return int(sum(np.prod(v.shape) for v in variables))

    # ------------------------------------------------------------------ Keras training
    def compile(self, *args, **kwargs) -> None:
        self.build()  # variables exist before the optimizer and the traced train step see them
        super().compile(*args, **kwargs)

    def compile_from_config(self, config: Dict[str, Any]) -> None:
        """Called by ``keras.models.load_model``: recompile with the saved optimizer, loss and metrics so the
        optimizer state in the ``.keras`` file is restored and training can resume (Keras skips models whose
        ``compile`` is overridden unless they define this)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.optimizer is not None:
            self.optimizer.build(self.trainable_variables)

    def task_loss(self, labels, outputs: ModelOutput) -> tf.Tensor:
        """The head's own loss for ``labels`` given as Keras ``y`` (heads override)."""
        raise ValueError(f"{type(self).__name__} has no task loss; compile() with a loss, or use a task head")

    @staticmethod
    def loss_inputs(outputs):
        """What a compiled Keras loss / metric receives as y_pred: the logits."""
        if isinstance(outputs, Mapping):
            if "start_logits" in outputs:
                return outputs["start_logits"], outputs["end_logits"]
            return outputs["logits"] if "logits" in outputs else outputs["last_hidden_state"]
        return outputs

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras hook. With a compiled loss and targets ``y``: that loss on the logits. Otherwise the model's task
        loss: computed in call() when the input dict holds ``labels`` (or start/end positions), else from ``y``."""
        if self._compile_loss is not None and y is not None:
            return super().compute_loss(x, y, self.loss_inputs(y_pred), sample_weight, training=training)
        if isinstance(y_pred, Mapping) and y_pred.get("loss") is not None:
            loss = y_pred["loss"]
        elif y is not None:
            loss = self.task_loss(y, y_pred)
        else:
            raise ValueError(
                f"no loss for {type(self).__name__}: put 'labels' (QA: 'start_positions'/'end_positions') in the "
                f"input dict, give (features, labels) batches, or compile() with a loss"
            )
        losses = [tf.cast(loss, tf.float32)] + [tf.cast(self._aggregate_additional_loss(l), tf.float32) for l in self.losses]
        return tf.add_n(losses)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if y is None and isinstance(x, Mapping):
            y = x.get("labels")
        if y is None:
            return self.get_metrics_result()
        return super().compute_metrics(x, y, self.loss_inputs(y_pred), sample_weight)

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        outputs = self(x, training=False)
        return dict(outputs) if isinstance(outputs, Mapping) else outputs

    # ------------------------------------------------------------------ Keras serialisation
    def get_config(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "config": self.config.to_dict(),
        }

    @classmethod
    def from_config(cls, config: Dict[str, Any]):
        config = dict(config)
        deberta_config = DebertaConfig.from_dict(config.pop("config"))
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(deberta_config, **config)

    # ------------------------------------------------------------------ SavedModel export
    def serving_outputs(self, outputs: ModelOutput) -> Dict[str, tf.Tensor]:
        """The tensors a serving signature returns: every output but the per-layer tuples."""
        return {name: value for name, value in outputs.items() if name not in ("hidden_states", "attentions")}

    def export(self, filepath, format: str = "tf_saved_model", verbose: bool = True, input_signature=None, **kwargs):
        """Export for serving. As a TF SavedModel without ``input_signature``: endpoints ``serve`` (int32) and
        ``serve_int64`` (int64), each taking a dict of input_ids / attention_mask (and token_type_ids when the
        model has token types) of shape [batch, sequence], both dynamic; the default signature is ``serve``."""
        if format != "tf_saved_model" or input_signature is not None:
            return super().export(filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)
        from keras.export import ExportArchive

        self.build()
        names = ["input_ids", "attention_mask"] + (["token_type_ids"] if self.config.type_vocab_size > 0 else [])
        archive = ExportArchive()
        archive.track(self)
        for endpoint, dtype in (("serve", tf.int32), ("serve_int64", tf.int64)):
            spec = {name: tf.TensorSpec([None, None], dtype, name=name) for name in names}
            archive.add_endpoint(
                endpoint, lambda inputs: self.serving_outputs(self(inputs, training=False)), input_signature=[spec]
            )
        archive.write_out(os.fspath(filepath), verbose=verbose)

    # ------------------------------------------------------------------ loading / saving
    @classmethod
    def _prepare_config_for_state(cls, config: DebertaConfig, state_keys) -> DebertaConfig:
        """Hook for heads that pick a variant from the checkpoint's keys (the MaskedLM head naming)."""
        return config

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: Union[str, os.PathLike],
        *,
        config: Optional[DebertaConfig] = None,
        from_pt: bool = False,
        dtype: Any = None,
        ignore_mismatched_sizes: bool = False,
        output_loading_info: bool = False,
        **kwargs: Any,
    ):
        """Load a checkpoint folder (or hub id with the [hub] extra) written by this package or the reference.

        Reads the reference tf_model.h5; with ``from_pt=True``, model.safetensors (or its shards) with NumPy
        (a pytorch_model.bin needs torch: convert it first). Other keyword arguments override config fields
        (``num_labels=3``, ``problem_type=...``). ``dtype`` is a Keras dtype policy (``"mixed_bfloat16"``).
        Missing, unexpected and mis-shaped weights of the encoder are reported together in one
        CheckpointLoadError; a fresh task head on a base checkpoint is a warning.
        """
        hub_kwargs = {k: kwargs.pop(k) for k in _HUB_KWARGS if k in kwargs}
        files = resolve_checkpoint(os.fspath(pretrained_model_name_or_path), **hub_kwargs)
        if config is None:
            if files.config is None:
                raise FileNotFoundError(f"no config.json in {files.folder!r}; pass config= explicitly")
            config = DebertaConfig.from_json_file(files.config, **kwargs)
        elif kwargs:
            config = config.copy(**kwargs)
        architecture = cls.__name__
        if from_pt:
            state = io.read_torch_weights(files)
        else:
            state = io.read_tf_weights(files)
        config = cls._prepare_config_for_state(config, list(state))
        model = cls(config) if dtype is None else cls(config, dtype=dtype)
        model.build()
        if from_pt:
            state, pre_report = io.torch_state_to_keras(state, config, architecture, ignore_mismatched_sizes)
        else:
            pre_report = io.LoadReport()
        to_load, report = io.match_weights(model, state, config, ignore_mismatched_sizes, pre_report)
        io.assign_weights(to_load)
        for kind, keys in (("newly initialised", report.missing_keys), ("not used", report.unexpected_keys)):
            if keys:
                logger.warning("%s.from_pretrained(%s): weights %s: %s", cls.__name__, files.folder, kind, keys)
        if output_loading_info:
            return model, report.as_dict()
        return model

    def save_pretrained(self, save_directory: Union[str, os.PathLike]) -> None:
        """Write config.json and the reference tf_model.h5 (loadable by the reference TF classes too)."""
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"save_pretrained expects a directory, got the file {save_directory!r}")
        self.build()
        config = self.config.copy(architectures=[type(self).__name__[2:]])  # the reference writes torch names
        config.save_pretrained(save_directory)
        io.save_tf_weights(self, save_directory)


@keras.saving.register_keras_serializable(package="deberta_tf")
class TFDebertaModel(TFDebertaPreTrainedModel):
    """The bare encoder: embeddings + disentangled-attention layers. Returns last_hidden_state etc."""

    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self.embeddings = DebertaEmbeddings(config, name="embeddings", dtype=self.dtype_policy)
        self.encoder = DebertaEncoder(config, name="encoder", dtype=self.dtype_policy)

    def get_base_model(self) -> "TFDebertaModel":
        return self

    @unpack_inputs
    def call(
        self,
        input_ids: Optional[tf.Tensor] = None,
        attention_mask: Optional[tf.Tensor] = None,
        token_type_ids: Optional[tf.Tensor] = None,
        position_ids: Optional[tf.Tensor] = None,
        inputs_embeds: Optional[tf.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
        training: bool = False,
    ):
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if input_ids is not None and inputs_embeds is not None:
            raise ValueError("pass either input_ids or inputs_embeds, not both")
        if input_ids is not None:
            if input_ids.shape.rank != 2:
                raise ValueError(f"input_ids must be [batch, sequence], got shape {tuple(input_ids.shape)}")
            input_shape = shape_list(input_ids)
        elif inputs_embeds is not None:
            if inputs_embeds.shape.rank != 3:
                raise ValueError(f"inputs_embeds must be [batch, sequence, embedding], got shape {tuple(inputs_embeds.shape)}")
            input_shape = shape_list(inputs_embeds)[:2]
        else:
            raise ValueError("pass input_ids or inputs_embeds")
        if attention_mask is None:
            attention_mask = tf.ones(input_shape, dtype=tf.int32)

        embedding_output = self.embeddings(
            input_ids=input_ids,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            mask=attention_mask,
            inputs_embeds=inputs_embeds,
            training=training,
        )  # [b, s, e]
        encoder_outputs = self.encoder(
            embedding_output,
            attention_mask,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
            training=training,
        )
        if not return_dict:
            return encoder_outputs.to_tuple()
        return encoder_outputs

    def enhanced_mask_decoder(
        self,
        hidden_states: tf.Tensor,
        attention_mask: Optional[tf.Tensor] = None,
        position_ids: Optional[tf.Tensor] = None,
        training: bool = False,
    ) -> tf.Tensor:
        """The enhanced mask decoder (config.enhanced_mask_decoder) on the second-to-last layer's output
        ``hidden_states`` [b, s, e]: the query stream starts as the raw absolute position embeddings of
        ``position_ids`` plus hidden_states, then runs through the last layer twice (DebertaEncoder.
        enhanced_mask_decoder). Returns [b, s, e] for the MaskedLM head."""
        if attention_mask is None:
            attention_mask = tf.ones(shape_list(hidden_states)[:2], dtype=tf.int32)
        query_states = self.embeddings.absolute_positions(hidden_states, position_ids) + hidden_states  # [b, s, e]
        return self.encoder.enhanced_mask_decoder(hidden_states, query_states, attention_mask, training=training)
