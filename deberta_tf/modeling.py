"""TFDebertaPreTrainedModel (loading, saving, Keras training/serialisation hooks) and TFDebertaModel (the encoder)."""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import keras
import numpy as np
import tensorflow as tf

from deberta_core import DebertaConfig, ModelOutput
from deberta_core.config import resolve_pretrained
from deberta_core.files import Staging, atomic_write, weight_file_names
from deberta_core.weight_plan import config_for_weights

from . import io
from .embeddings import DebertaEmbeddings
from .encoder import DebertaEncoder
from .utils import (Embedding, lists_to_tensors, restart_lora_factors_after_load, shape_list, unpack_inputs,
                    validate_inputs)

logger = logging.getLogger("deberta_tf")

# The Dense projections of DisentangledSelfAttention that enable_lora can adapt (pos_* exist with c2p / p2c).
LORA_TARGETS = ("in_proj", "pos_proj", "pos_q_proj")
# PEFT's default LoRA target for DeBERTa, so both frameworks adapt the same weights unless told otherwise.
DEFAULT_LORA_TARGETS = ("in_proj",)


class LoraSettings(NamedTuple):
    rank: int
    lora_alpha: float
    target_layer_names: Tuple[str, ...]


def refuse_overwrite(filepath, overwrite: bool) -> None:
    """Keras asks on stdin before replacing a file when ``overwrite=False``; we refuse instead (no prompt)."""
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{os.fspath(filepath)!r} exists and overwrite=False; pass overwrite=True to replace it")


class TFDebertaPreTrainedModel(keras.Model):
    """Base of every model: ``from_pretrained`` / ``save_pretrained``, Keras training, saving and export hooks.

    Args:
        config: the model's configuration (a ``DebertaConfig``).
        **kwargs: Keras layer arguments (``name``, ``dtype``: a dtype policy such as ``"mixed_bfloat16"``).

    Raises:
        TypeError: ``config`` is not a ``DebertaConfig``.
    """

    config_class = DebertaConfig
    base_model_prefix = "deberta"

    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(config, DebertaConfig):
            raise TypeError(f"expected a deberta_core.DebertaConfig, got {type(config).__name__}")
        self.config = config
        self.lora_settings = None  # a LoraSettings, set by enable_lora

    def __call__(self, *args, **kwargs):
        """Keras' ``__call__`` takes only tensors and arrays in its first argument; the rectangular nested Python
        lists that ``call`` accepts there (alone, in an input dict or in an input list) become tensors first, with
        call's own error for a ragged one."""
        if args:
            args = (lists_to_tensors(args[0], self.call.input_names),) + args[1:]
        return super().__call__(*args, **kwargs)

    # ------------------------------------------------------------------ building
    @property
    def dummy_inputs(self) -> Dict[str, tf.Tensor]:
        return {"input_ids": tf.zeros((1, min(2, self.config.max_position_embeddings)), dtype=tf.int32)}

    def build(self, input_shape=None) -> None:
        """Create every variable (one forward pass on dummy inputs), in this model's name scope.

        Args:
            input_shape: ignored (Keras passes it); the dummy inputs are [1, 2] token ids.
        """
        if self.built:
            return
        with tf.init_scope():
            self.call(self.dummy_inputs, training=False)
        self.built = True

    def get_build_config(self) -> Dict[str, Any]:
        """Keras serialisation hook: what ``build_from_config`` needs to rebuild the model (the LoRA settings when
        ``enable_lora`` was called).
        """
        config: Dict[str, Any] = {"dummy_inputs": True}
        if self.lora_settings is not None:
            config["lora"] = self.lora_settings._asdict()
        return config

    def build_from_config(self, config: Dict[str, Any]) -> None:
        """Keras serialisation hook (``keras.models.load_model``): build the variables and enable LoRA again, with fresh
        factors, when the saved model had it.

        Args:
            config: what ``get_build_config`` returned.
        """
        self.build()
        if config.get("lora"):
            lora = dict(config["lora"])
            self.enable_lora(lora.pop("rank"), **lora)
            for layer in self.lora_layers():
                restart_lora_factors_after_load(layer)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """``keras.Model.save`` (``.keras``), after creating the variables if no call has yet; a single file is written
        atomically (an error or interrupt leaves no half-written file).

        Args:
            filepath: the ``.keras`` file (or a file-like object, written by Keras directly).
            overwrite: replace an existing file; with ``False`` an existing file is an error (no prompt).
            zipped: as ``keras.Model.save``; ``False`` writes an unzipped folder, not atomically.
            **kwargs: passed to ``keras.Model.save``.

        Raises:
            FileExistsError: the file exists and ``overwrite`` is ``False``.
        """
        self.build()
        if zipped is False or not isinstance(filepath, (str, os.PathLike)):
            return super().save(filepath, overwrite=overwrite, zipped=zipped, **kwargs)
        refuse_overwrite(filepath, overwrite)
        with atomic_write(filepath, keep_name_ending=True) as tmp:
            return super().save(tmp, overwrite=True, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """``keras.Model.save_weights``; a single file is written atomically.

        Args:
            filepath: the ``.weights.h5`` file (or a file-like object, written by Keras directly).
            overwrite: replace an existing file; with ``False`` an existing file is an error (no prompt).
            max_shard_size: as ``keras.Model.save_weights``: shard the weights (not atomic).

        Raises:
            FileExistsError: the file exists and ``overwrite`` is ``False``.
        """
        self.build()
        if max_shard_size is not None or not isinstance(filepath, (str, os.PathLike)):
            return super().save_weights(filepath, overwrite=overwrite, max_shard_size=max_shard_size)
        refuse_overwrite(filepath, overwrite)
        with atomic_write(filepath, keep_name_ending=True) as tmp:
            return super().save_weights(tmp, overwrite=True)

    # ------------------------------------------------------------------ embeddings
    def get_base_model(self) -> "TFDebertaModel":  # twin: base-model-accessor
        """The encoder (torch's ``base_model`` property; a method here, because Keras' saving walks every
        attribute and a property returning the model itself would recurse)."""
        return getattr(self, self.base_model_prefix, self)

    def get_input_embeddings(self):
        """The word embedding layer (its table: [vocab_size, E])."""
        return self.get_base_model().embeddings.word_embeddings

    def resize_token_embeddings(self, new_num_tokens: int):
        """Grow or shrink the vocabulary; new rows are initialised like the rest, tied heads follow. Call it before
        compile(): the optimizer's slots are built for the variables it saw.

        Args:
            new_num_tokens: the new vocabulary size (a positive integer).

        Returns:
            The word embedding layer (the same one when the size is unchanged).

        Raises:
            ValueError: ``new_num_tokens`` is not a positive integer.
        """
        if not isinstance(new_num_tokens, int) or isinstance(new_num_tokens, bool) or new_num_tokens < 1:
            raise ValueError(f"new_num_tokens must be a positive integer, got {new_num_tokens!r}")
        self.build()
        embeddings = self.get_input_embeddings()
        if new_num_tokens == embeddings.num_embeddings:
            return embeddings
        embeddings.resize(new_num_tokens)
        self._resize_output_bias(new_num_tokens)
        self.config.vocab_size = new_num_tokens
        return embeddings

    def _resize_output_bias(self, new_num_tokens: int) -> None:
        """Heads whose output is tied to the vocabulary override this."""

    # ------------------------------------------------------------------ training helpers
    def gradient_checkpointing_enable(self, every_n_layers: int = 1) -> None:
        """Recompute encoder layers in the backward pass (tf.recompute_grad). Set it before compile()/fit().

        Args:
            every_n_layers: checkpoint layers 0, n, 2n, ...; the others keep their activations (less recompute).
                (torch's ``gradient_checkpointing_kwargs`` and ``offload`` are options of torch.utils.checkpoint.)
        """
        if not isinstance(every_n_layers, int) or isinstance(every_n_layers, bool) or every_n_layers < 1:
            raise ValueError(f"every_n_layers must be a positive integer, got {every_n_layers!r}")
        encoder = self.get_base_model().encoder
        encoder.gradient_checkpointing = True
        encoder.checkpoint_every_n_layers = every_n_layers

    def gradient_checkpointing_disable(self) -> None:
        """Keep every layer's activations again (undo ``gradient_checkpointing_enable``)."""
        self.get_base_model().encoder.gradient_checkpointing = False

    @property
    def is_gradient_checkpointing(self) -> bool:
        return self.get_base_model().encoder.gradient_checkpointing

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        """Number of parameters (LoRA factors included).

        Args:
            only_trainable: count only the trainable weights.
            exclude_embeddings: leave out the lookup tables (word, position, token-type and relative-position
                embeddings), as torch's twin and the reference count "non-embedding" parameters.
        """
        self.build()
        variables = self.trainable_weights if only_trainable else self.weights
        if exclude_embeddings:
            encoder = self.get_base_model().encoder
            tables = {id(layer.weight) for layer in self._flatten_layers() if isinstance(layer, Embedding)}
            tables |= {id(encoder.rel_embeddings)} if encoder.relative_attention else set()
            variables = [v for v in variables if id(v) not in tables]
        return int(sum(np.prod(v.shape) for v in variables))

    # ------------------------------------------------------------------ LoRA
    def enable_lora(
        self,
        rank: int,
        lora_alpha: Optional[float] = None,
        target_layer_names: Sequence[str] = DEFAULT_LORA_TARGETS,
    ) -> None:
        """Low-rank adaptation with Keras 3's own ``Dense.enable_lora``, as keras-hub's ``backbone.enable_lora``.

        After it, only the LoRA factors and the task head train:

        - every encoder layer's attention projections named in ``target_layer_names`` (``in_proj``, the fused
          q/k/v projection, by default, PEFT's choice for DeBERTa; also ``pos_proj`` / ``pos_q_proj``, the
          relative-position projections) compute ``x @ (kernel + lora_alpha / rank * A @ B)``, A ``[in, rank]``
          (he_uniform) and B ``[rank, out]`` (zeros, so the outputs are unchanged at first); their kernel (and
          ``pos_q_proj``'s bias, as PEFT's ``bias="none"``) is frozen;
        - every other weight of the encoder is frozen: embeddings, q/v biases, feed-forward, LayerNorms,
          relative-position embeddings;
        - the layers outside the encoder (the task head: pooler + classifier, token classifier, ``qa_outputs``,
          the MLM transform and output bias) keep their trainable setting; the MLM decoder is the frozen word
          embedding matrix. A bare ``TFDebertaModel`` trains the factors only.

        Call it before the first ``fit`` (compile again if the model already trained). ``save("m.keras")`` writes
        what Keras' Dense writes, the merged kernels, plus these settings: ``keras.models.load_model`` gives the
        model back in LoRA mode with the same outputs, the merged kernels as the frozen base and fresh factors.
        ``save_pretrained`` and ``deberta-convert`` write the merged kernels (a plain checkpoint for either
        framework).

        Args:
            rank: the rank of the factors (a positive integer).
            lora_alpha: the scale numerator (positive); default ``rank`` (scale 1).
            target_layer_names: which projections to adapt, from ``LORA_TARGETS``.
        """
        if self.lora_settings is not None:
            raise ValueError(f"LoRA is already enabled on {self.name} ({self.lora_settings}); it is enabled once")
        if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
            raise ValueError(f"rank must be a positive integer, got {rank!r}")
        lora_alpha = rank if lora_alpha is None else lora_alpha
        if not isinstance(lora_alpha, (int, float)) or isinstance(lora_alpha, bool) or not lora_alpha > 0:
            raise ValueError(f"lora_alpha must be a positive number, got {lora_alpha!r}")
        targets = (target_layer_names,) if isinstance(target_layer_names, str) else tuple(target_layer_names)
        unknown = [name for name in targets if name not in LORA_TARGETS]
        if not targets or unknown:
            raise ValueError(f"target_layer_names must be some of {list(LORA_TARGETS)}, got {list(targets)}")
        if getattr(self, "optimizer", None) is not None and self.optimizer.built:  # set by compile()
            raise ValueError("enable_lora after training: the optimizer was built for the old trainable weights; "
                             "call compile() again after enable_lora")
        self.build()
        attentions = [layer_module.attention.self for layer_module in self.get_base_model().encoder.layer]
        absent = [name for name in targets if not all(hasattr(attention, name) for attention in attentions)]
        if absent:
            raise ValueError(
                f"target_layer_names {absent} do not exist in this model (relative_attention="
                f"{self.config.relative_attention}, pos_att_type={self.config.pos_att_type}): pos_proj needs 'c2p', "
                f"pos_q_proj 'p2c'"
            )
        for layer in self.get_base_model()._flatten_layers(include_self=False, recursive=False):
            layer.trainable = False  # embeddings and encoder; the task head is outside the base model
        for attention in attentions:
            for name in targets:
                dense = getattr(attention, name)
                dense.trainable = True
                dense.enable_lora(rank, lora_alpha=lora_alpha)  # freezes the kernel
                if dense.bias is not None:
                    dense.bias.trainable = False
        self.lora_settings = LoraSettings(rank, lora_alpha, targets)

    def lora_layers(self) -> list:
        """The Dense layers of this model with LoRA enabled (by enable_lora or by hand)."""
        return [layer for layer in self._flatten_layers(include_self=False) if getattr(layer, "lora_enabled", False)]

    # ------------------------------------------------------------------ Keras training
    def compile(self, *args, **kwargs) -> None:
        """``keras.Model.compile``, after creating the variables (so the optimizer and the traced train step see them).
        Without a ``loss`` the model trains on its task head's own loss.

        Args:
            *args: passed to ``keras.Model.compile``.
            **kwargs: passed to ``keras.Model.compile``.
        """
        self.build()  # variables exist before the optimizer and the traced train step see them
        super().compile(*args, **kwargs)

    def compile_from_config(self, config: Dict[str, Any]) -> None:
        """Called by ``keras.models.load_model``: recompile with the saved optimizer, loss and metrics so the optimizer
        state in the ``.keras`` file is restored and training can resume (Keras skips models whose ``compile`` is
        overridden unless they define this).

        Args:
            config: the serialised ``compile`` arguments Keras saved.
        """
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.optimizer is not None:
            self.optimizer.build(self.trainable_variables)

    def task_loss(self, labels, outputs: ModelOutput) -> tf.Tensor:
        """The head's own loss for ``labels`` given as Keras ``y`` (heads override).

        Args:
            labels: the targets, as the head's ``call`` takes them.
            outputs: the model's outputs.

        Returns:
            The loss, a scalar.

        Raises:
            ValueError: always, here: the bare model has no task loss.
        """
        raise ValueError(f"{type(self).__name__} has no task loss; compile() with a loss, or use a task head")

    @staticmethod
    def loss_inputs(outputs):
        """What a compiled Keras loss / metric receives as y_pred: the logits.

        Args:
            outputs: the model's outputs.

        Returns:
            ``logits`` ([b, num_labels] or [b, s, ...]); QA: the pair (``start_logits``, ``end_logits``), [b, s]
            each; the bare model: ``last_hidden_state`` [b, s, e]; anything not a mapping unchanged.
        """
        if isinstance(outputs, Mapping):
            if "start_logits" in outputs:
                return outputs["start_logits"], outputs["end_logits"]
            return outputs["logits"] if "logits" in outputs else outputs["last_hidden_state"]
        return outputs

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras hook. With a compiled loss and targets ``y``: that loss on the logits. Otherwise the model's task loss:
        computed in call() when the input dict holds ``labels`` (or start/end positions), else from ``y``.

        Args:
            x: the inputs of the batch.
            y: the targets, or None.
            y_pred: the model's outputs.
            sample_weight: per-example weights (used by a compiled loss only).
            training: whether Keras is training (passed to a compiled loss).

        Returns:
            The loss, a float32 scalar, plus any losses the layers added.

        Raises:
            ValueError: there is no loss to compute (no labels anywhere and no compiled loss).
        """
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
        """Keras hook: update the compiled metrics on the logits (``loss_inputs``), with the targets from ``y`` or the
        input dict's ``labels``.

        Args:
            x: the inputs of the batch.
            y: the targets, or None.
            y_pred: the model's outputs.
            sample_weight: per-example weights.

        Returns:
            The metrics' current results by name.
        """
        if y is None and isinstance(x, Mapping):
            y = x.get("labels")
        if y is None:
            return self.get_metrics_result()
        return super().compute_metrics(x, y, self.loss_inputs(y_pred), sample_weight)

    def predict_step(self, data):
        """Keras hook for ``predict``: the outputs of one batch in inference mode, as a dict.

        Args:
            data: a batch: inputs, or (inputs, targets[, sample weights]).
        """
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        outputs = self(x, training=False)
        return dict(outputs) if isinstance(outputs, Mapping) else outputs

    # ------------------------------------------------------------------ Keras serialisation
    def get_config(self) -> Dict[str, Any]:
        """Keras serialisation: the layer name, trainable flag, dtype policy and the ``DebertaConfig`` as a dict."""
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "config": self.config.to_dict(),
        }

    @classmethod
    def from_config(cls, config: Dict[str, Any]):
        """Keras deserialisation: the model (without weights) from what ``get_config`` returned.

        Args:
            config: what ``get_config`` returned.
        """
        config = dict(config)
        deberta_config = DebertaConfig.from_dict(config.pop("config"))
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(deberta_config, **config)

    # ------------------------------------------------------------------ SavedModel export
    def serving_outputs(self, outputs: ModelOutput) -> Dict[str, tf.Tensor]:
        """The tensors a serving signature returns: every output but the per-layer tuples.

        Args:
            outputs: the model's ``ModelOutput``.
        """
        return {name: value for name, value in outputs.items() if name not in ("hidden_states", "attentions")}

    def serving_signature(self, dtype=tf.int32) -> Dict[str, tf.TensorSpec]:
        """The inputs a served model takes: input_ids / attention_mask (and token_type_ids when the model has token
        types), [b, s] of ``dtype``, both dynamic.

        Args:
            dtype: the integer dtype of every input.

        Returns:
            A ``tf.TensorSpec`` per input name.
        """
        names = ["input_ids", "attention_mask"] + (["token_type_ids"] if self.config.type_vocab_size > 0 else [])
        return {name: tf.TensorSpec([None, None], dtype, name=name) for name in names}

    @property
    def _default_save_signature(self):
        # What SavedModel writers (ExportArchive tracking this model or a model inside it, tf.saved_model.save)
        # trace as serving_default. Keras' own traces the recorded build shapes as float32 (its input_dtype),
        # which the model refuses for token ids: serve integer ids instead.
        return tf.function(lambda inputs: self.serving_outputs(self(inputs, training=False)),
                           input_signature=[self.serving_signature()])

    def export(self, filepath, format: str = "tf_saved_model", verbose: bool = True, input_signature=None, **kwargs):
        """Export for serving. As a TF SavedModel without ``input_signature``: endpoints ``serve`` (int32) and
        ``serve_int64`` (int64), each taking a dict of input_ids / attention_mask (and token_type_ids when the model
        has token types) of shape [b, s], both dynamic; the default signature is ``serve``.

        Args:
            filepath: the folder to write.
            format: ``"tf_saved_model"``; any other (``"onnx"``, ...) is Keras' own ``export``.
            verbose: print what was written.
            input_signature: given, Keras' own ``export`` traces with it instead of the two endpoints.
            **kwargs: passed to Keras' own ``export``.
        """
        if format != "tf_saved_model" or input_signature is not None:
            return super().export(filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)
        from keras.export import ExportArchive

        self.build()
        archive = ExportArchive()
        archive.track(self)
        for endpoint, dtype in (("serve", tf.int32), ("serve_int64", tf.int64)):
            archive.add_endpoint(
                endpoint, lambda inputs: self.serving_outputs(self(inputs, training=False)),
                input_signature=[self.serving_signature(dtype)]
            )
        archive.write_out(os.fspath(filepath), verbose=verbose)

    # ------------------------------------------------------------------ loading / saving
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

        Reads the reference tf_model.h5; with ``from_pt=True``, model.safetensors (or its shards) with NumPy (a
        pytorch_model.bin needs torch: convert it first). Missing, unexpected and mis-shaped weights of the encoder
        are reported together in one CheckpointLoadError; a fresh task head on a base checkpoint is a warning.

        Args:
            pretrained_model_name_or_path: a checkpoint folder, or a hub id (needs the [hub] extra).
            config: use this configuration instead of the checkpoint's config.json.
            from_pt: read the PyTorch weights (model.safetensors) instead of tf_model.h5.
            dtype: a Keras dtype policy (``"mixed_bfloat16"``); default the global one.
            ignore_mismatched_sizes: leave task-head weights whose shape differs from the checkpoint's (another
                number of labels) freshly initialised instead of failing.
            output_loading_info: also return what was missing, unexpected and mismatched.
            **kwargs: override config fields (``num_labels=3``, ``problem_type=...``); the hub options ``cache_dir``,
                ``revision``, ``token``, ``local_files_only``.

        Returns:
            The model, built and loaded; with ``output_loading_info``, the pair (model, info dict).

        Raises:
            CheckpointLoadError: the checkpoint's weights do not fit the model.
        """
        files, config = resolve_pretrained(pretrained_model_name_or_path, config, caller=cls.from_pretrained,
                                           **kwargs)
        weights, family = io.read_weights(files, from_pt=from_pt)
        config = config_for_weights(config, cls.__name__, list(weights), logger)
        model = cls(config) if dtype is None else cls(config, dtype=dtype)
        model.build()
        report = io.load_weights(model, weights, family, ignore_mismatched_sizes)
        report.log(logger, cls.__name__, files.folder)
        if output_loading_info:
            return model, report.as_dict()
        return model

    def save_pretrained(self, save_directory: Union[str, os.PathLike]) -> None:
        """Write config.json and the reference tf_model.h5 (loadable by the reference TF classes too).

        All or nothing: both files are written to a staging folder and moved in only when complete, so an error or
        interrupt leaves ``save_directory`` as it was.

        Args:
            save_directory: the folder (created if missing).

        Raises:
            ValueError: ``save_directory`` is a file.
        """
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"save_pretrained expects a directory, got the file {save_directory!r}")
        self.build()
        config = self.config.copy(architectures=[type(self).__name__[2:]])  # the reference writes torch class names
        with Staging(save_directory, parents=True) as staging:  # all or nothing: config and weights together
            config.save_pretrained(staging.folder)
            io.save_weights(self, staging.folder)
            staging.commit(replaces=weight_file_names(save_directory, io.OWN_FORMATS))


@keras.saving.register_keras_serializable(package="deberta_tf")
class TFDebertaModel(TFDebertaPreTrainedModel):
    """The bare encoder: embeddings + disentangled-attention layers. Returns last_hidden_state etc.

    Args:
        config: the model's configuration (a ``DebertaConfig``).
        **kwargs: Keras layer arguments (``name``, ``dtype``: a dtype policy such as ``"mixed_bfloat16"``).
    """

    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self.embeddings = DebertaEmbeddings(config, name="embeddings", dtype=self.dtype_policy)
        self.encoder = DebertaEncoder(config, name="encoder", dtype=self.dtype_policy)

    def get_base_model(self) -> "TFDebertaModel":  # twin: base-model-accessor
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
        """Encode a batch: embeddings, then every layer.

        Accepts the reference's input forms: keyword arguments, a dict of them as the first argument, a list or tuple
        in this order, or one tensor of input_ids.

        Args:
            input_ids: token ids [b, s], int32 or int64, in [0, vocab_size). Give this or ``inputs_embeds``, not
                both.
            attention_mask: 1 for a token, 0 for padding, [b, s] (or [b, s, s], [b, 1, s], [b, 1, s, s], [b, 1, 1,
                s]); bool, integer or 0/1 floats. Default: all ones.
            token_type_ids: segment ids [b, s] in [0, type_vocab_size); default zeros (ignored when type_vocab_size
                is 0).
            position_ids: absolute positions [b, s] or [1, s]; default 0 .. s-1. Read only by the absolute position
                embeddings (``position_biased_input``) and the enhanced mask decoder.
            inputs_embeds: word embeddings [b, s, E] (floats) to use instead of looking up ``input_ids``.
            output_attentions: also return each layer's attention probabilities [b, h, s, s]; default
                ``config.output_attentions``.
            output_hidden_states: also return the embedding output and each layer's output, [b, s, e] each; default
                ``config.output_hidden_states``.
            return_dict: return a ``ModelOutput`` (default ``config.return_dict``), else the tuple of its fields that
                are not None.
            training: run dropout (Keras sets it in ``fit``).

        Returns:
            A ``ModelOutput``: ``last_hidden_state`` [b, s, e], then ``hidden_states`` (a tuple of [b, s, e], the
            embedding output first) and ``attentions`` (a tuple of [b, h, s, s], one per layer) when asked for;
            without ``return_dict``, the tuple of the same fields.

        Raises:
            ValueError: an input of the wrong shape, dtype or value range (docs/errors.md lists each), or both or
                neither of ``input_ids`` and ``inputs_embeds``.
        """
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        return_dict = self.config.return_dict if return_dict is None else return_dict
        input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds = validate_inputs(
            self.config, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        input_shape = shape_list(input_ids if input_ids is not None else inputs_embeds)[:2]
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
