"""DebertaPreTrainedModel (init, loading, saving, embeddings resizing) and DebertaModel (the encoder)."""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, Mapping, Optional, Union

import torch
from torch import nn

from deberta_core import DebertaConfig
from deberta_core.config import resolve_pretrained
from deberta_core.files import Staging, weight_file_names
from deberta_core.weight_plan import config_for_weights

from . import io
from .attention import DisentangledSelfAttention
from .embeddings import DebertaEmbeddings, DebertaLayerNorm
from .encoder import DebertaEncoder
from .utils import register_model_output_pytree, validate_inputs

logger = logging.getLogger("deberta_torch")

register_model_output_pytree()  # twin: torch-tracing


class DebertaPreTrainedModel(nn.Module):
    """Base of every model: weight init, ``from_pretrained`` / ``save_pretrained``, gradient checkpointing.

    Args:
        config: the model's configuration (a ``DebertaConfig``).

    Raises:
        TypeError: ``config`` is not a ``DebertaConfig``.
    """

    config_class = DebertaConfig
    base_model_prefix = "deberta"
    # What training tools (transformers.Trainer, accelerate, PEFT) read off a reference model, with its meaning:
    main_input_name = "input_ids"  # the input whose size counts the tokens (estimate_tokens, floating_point_ops)
    supports_gradient_checkpointing = True
    _keys_to_ignore_on_save = None  # every state_dict key is saved (the tied MLM decoder is not a parameter)

    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        if not isinstance(config, DebertaConfig):
            raise TypeError(f"expected a deberta_core.DebertaConfig, got {type(config).__name__}")
        self.config = config
        self._input_require_grads_hook = None  # set by enable_input_require_grads
        self._checkpointing_needs_input_grads = False  # set by gradient_checkpointing_enable(use_reentrant=True)

    # ------------------------------------------------------------------ init
    def post_init(self) -> None:
        """Initialise every weight as the reference does (normal(0, initializer_range) for linear and embedding weights,
        zero biases and padding rows, unit LayerNorm scales); the model constructors call it last.
        """
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, (nn.LayerNorm, DebertaLayerNorm)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, DisentangledSelfAttention):
            nn.init.zeros_(module.q_bias)
            nn.init.zeros_(module.v_bias)

    # ------------------------------------------------------------------ embeddings
    @property
    def base_model(self) -> "DebertaModel":  # twin: base-model-accessor
        return getattr(self, self.base_model_prefix, self)

    def get_input_embeddings(self) -> nn.Embedding:
        """The word embedding layer (its table: [vocab_size, E])."""
        return self.base_model.embeddings.word_embeddings

    def set_input_embeddings(self, new_embeddings: nn.Embedding) -> None:
        """Replace the word embedding layer.

        Args:
            new_embeddings: an ``nn.Embedding`` [vocab_size, E].
        """
        self.base_model.embeddings.word_embeddings = new_embeddings

    def resize_token_embeddings(self, new_num_tokens: int) -> nn.Embedding:
        """Grow or shrink the vocabulary; new rows are initialised like the rest, tied heads follow.

        Args:
            new_num_tokens: the new vocabulary size (a positive integer).

        Returns:
            The word embedding layer (the same one when the size is unchanged).

        Raises:
            ValueError: ``new_num_tokens`` is not a positive integer.
        """
        if not isinstance(new_num_tokens, int) or new_num_tokens < 1:
            raise ValueError(f"new_num_tokens must be a positive integer, got {new_num_tokens!r}")
        old = self.get_input_embeddings()
        if new_num_tokens == old.num_embeddings:
            return old
        new = nn.Embedding(new_num_tokens, old.embedding_dim, padding_idx=old.padding_idx,
                           device=old.weight.device, dtype=old.weight.dtype)
        self._init_weights(new)
        keep = min(old.num_embeddings, new_num_tokens)
        with torch.no_grad():
            new.weight[:keep] = old.weight[:keep]
        self.set_input_embeddings(new)
        self._resize_output_bias(new_num_tokens)
        self.config.vocab_size = new_num_tokens
        return new

    def _resize_output_bias(self, new_num_tokens: int) -> None:
        """Heads whose output is tied to the vocabulary override this."""

    # ------------------------------------------------------------------ inference
    def freeze_relative_tables(self) -> "FrozenRelativeTables":
        """Serve eval calls from relative-position tables projected once, until ``unfreeze_relative_tables()``.

        By default every call projects the relative embeddings through each layer's ``pos_proj`` / ``pos_q_proj``
        (as the reference does), so whatever changes the weights or those modules is seen. Freezing is the
        serving switch: each layer projects its whole table once, at its first eval call that no gradient can
        reach, and later calls slice it (docs/torch.md, "Frozen relative tables"). It is your promise that the
        weights and the projection modules stay as they are: a change made while frozen (an optimizer step in
        eval mode, a write through ``.data``, an adapter switched, a hook added to ``pos_proj``) is not seen until
        you freeze again. A mode change (``train()`` / ``eval()``), ``.to()`` and ``load_state_dict()`` re-freeze:
        the next frozen call projects the weights as they are then. Training calls, and eval calls with autograd
        on and a relative weight requiring grad, project per call while frozen. Thread-safe: concurrent calls in
        any mix of dtypes and autocast states read the one table (cast to the autocast dtype per call).
        ``torch.compile`` / ``torch.export`` read tables frozen before tracing and never keep any of their own.
        Calling it again re-projects. Torch only (the Keras twin projects per call; under XLA it costs little).

        Returns:
            A handle: ``with model.freeze_relative_tables(): ...`` unfreezes on leaving the block; a plain call
            stays frozen until ``unfreeze_relative_tables()``.
        """
        for module in self.modules():
            if isinstance(module, DisentangledSelfAttention):
                module.set_frozen(True)
        return FrozenRelativeTables(self)

    def unfreeze_relative_tables(self) -> None:
        """Project the relative-position tables on every call again (the default) and drop the frozen ones."""
        for module in self.modules():
            if isinstance(module, DisentangledSelfAttention):
                module.set_frozen(False)

    # ------------------------------------------------------------------ training helpers
    def gradient_checkpointing_enable(
        self,
        gradient_checkpointing_kwargs: Optional[Dict[str, Any]] = None,
        every_n_layers: int = 1,
        offload: bool = False,
    ) -> None:
        """Recompute encoder layers in the backward pass instead of keeping their activations (training only).

        Args:
            gradient_checkpointing_kwargs: keyword arguments of ``torch.utils.checkpoint.checkpoint``; default
                ``{"use_reentrant": False}``. With ``use_reentrant=True`` the embedding output is also made to
                require grad (``enable_input_require_grads``), or layers fed by frozen embeddings (PEFT / LoRA)
                would get no gradient.
            every_n_layers: checkpoint layers 0, n, 2n, ...; the others keep their activations (less recompute).
            offload: keep the tensors saved for the recompute in pinned host memory while the model runs on an
                accelerator (a no-op on CPU, where they already are).
        """
        if not isinstance(every_n_layers, int) or isinstance(every_n_layers, bool) or every_n_layers < 1:
            raise ValueError(f"every_n_layers must be a positive integer, got {every_n_layers!r}")
        kwargs = {"use_reentrant": False, **(gradient_checkpointing_kwargs or {})}
        encoder = self.base_model.encoder
        encoder.gradient_checkpointing = True
        encoder.checkpoint_every_n_layers = every_n_layers
        encoder.checkpoint_kwargs = kwargs
        encoder.checkpoint_offload = bool(offload)
        if kwargs["use_reentrant"] and self._input_require_grads_hook is None:
            self.enable_input_require_grads()
            self._checkpointing_needs_input_grads = True

    def gradient_checkpointing_disable(self) -> None:
        """Keep every layer's activations again (undo ``gradient_checkpointing_enable``)."""
        self.base_model.encoder.gradient_checkpointing = False
        if self._checkpointing_needs_input_grads:  # the hook it added, not one the user asked for
            self.disable_input_require_grads()
            self._checkpointing_needs_input_grads = False

    # transformers 5 renamed them (its Trainer calls these names when present).
    def activation_checkpointing_enable(
        self,
        activation_checkpointing_kwargs: Optional[Dict[str, Any]] = None,
        every_n_layers: int = 1,
        offload: bool = False,
    ) -> None:
        """``gradient_checkpointing_enable`` under its transformers 5 name.

        Args:
            activation_checkpointing_kwargs: as ``gradient_checkpointing_kwargs``.
            every_n_layers: as ``gradient_checkpointing_enable``'s.
            offload: as ``gradient_checkpointing_enable``'s.
        """
        self.gradient_checkpointing_enable(activation_checkpointing_kwargs, every_n_layers, offload)

    def activation_checkpointing_disable(self) -> None:
        """``gradient_checkpointing_disable`` under its transformers 5 name."""
        self.gradient_checkpointing_disable()

    @property
    def is_gradient_checkpointing(self) -> bool:
        return self.base_model.encoder.gradient_checkpointing

    def enable_input_require_grads(self) -> None:
        """Make the input embeddings' output require grad, so that gradients reach trainable weights after frozen
        embeddings (adapters) through reentrant checkpointing. Undone by ``disable_input_require_grads``."""
        if self._input_require_grads_hook is None:
            self._input_require_grads_hook = self.get_input_embeddings().register_forward_hook(
                lambda module, inputs, output: output.requires_grad_(True) if torch.is_grad_enabled() else None
            )

    def disable_input_require_grads(self) -> None:
        """Remove the hook ``enable_input_require_grads`` added (nothing when there is none)."""
        if self._input_require_grads_hook is not None:
            self._input_require_grads_hook.remove()
            self._input_require_grads_hook = None

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        """Number of parameters.

        Args:
            only_trainable: count only those with ``requires_grad``.
            exclude_embeddings: leave out the weights of every ``nn.Embedding`` (word, position, token-type and
                relative-position tables), as the reference counts "non-embedding" parameters.
        """
        embedding_weights = {id(module.weight) for module in self.modules() if isinstance(module, nn.Embedding)}
        return sum(
            p.numel() for p in self.parameters()
            if (p.requires_grad or not only_trainable) and not (exclude_embeddings and id(p) in embedding_weights)
        )

    def estimate_tokens(self, input_dict: Mapping[str, Any]) -> int:
        """Tokens in a batch: the number of elements of its ``input_ids`` (0 when it has none).

        Args:
            input_dict: the batch's inputs by name (``input_ids`` [b, s]).
        """
        tokens = input_dict.get(self.main_input_name)
        return 0 if tokens is None else int(tokens.numel())

    def floating_point_ops(self, input_dict: Mapping[str, Any], exclude_embeddings: bool = True) -> int:
        """Approximate forward + backward FLOPs of one batch, ``6 * tokens * parameters`` (the reference's and Kaplan et
        al.'s estimate; attention's sequence-squared terms are left out). transformers.Trainer sums it into
        ``total_flos``.

        Args:
            input_dict: the batch's inputs by name (``input_ids`` [b, s] counts the tokens).
            exclude_embeddings: count only the non-embedding parameters (``num_parameters``).
        """
        return 6 * self.estimate_tokens(input_dict) * self.num_parameters(exclude_embeddings=exclude_embeddings)

    # ------------------------------------------------------------------ loading / saving
    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: Union[str, os.PathLike],
        *,
        config: Optional[DebertaConfig] = None,
        from_tf: bool = False,
        torch_dtype: Optional[torch.dtype] = None,
        ignore_mismatched_sizes: bool = False,
        output_loading_info: bool = False,
        **kwargs: Any,
    ):
        """Load a checkpoint folder (or hub id with the [hub] extra) written by this package or the reference.

        Reads model.safetensors (or its shards), else pytorch_model.bin (weights_only=True); with ``from_tf=True``,
        the reference's tf_model.h5. Missing, unexpected and mis-shaped weights of the encoder are reported together
        in one CheckpointLoadError; a fresh task head on a base checkpoint is a warning.

        Args:
            pretrained_model_name_or_path: a checkpoint folder, or a hub id (needs the [hub] extra).
            config: use this configuration instead of the checkpoint's config.json.
            from_tf: read the reference's tf_model.h5 instead of the PyTorch weights.
            torch_dtype: cast the loaded model to this dtype (``torch.bfloat16``); default float32.
            ignore_mismatched_sizes: leave task-head weights whose shape differs from the checkpoint's (another
                number of labels) freshly initialised instead of failing.
            output_loading_info: also return what was missing, unexpected and mismatched.
            **kwargs: override config fields (``num_labels=3``, ``problem_type=...``); the hub options ``cache_dir``,
                ``revision``, ``token``, ``local_files_only``.

        Returns:
            The model in eval mode; with ``output_loading_info``, the pair (model, info dict).

        Raises:
            CheckpointLoadError: the checkpoint's weights do not fit the model.
        """
        files, config = resolve_pretrained(pretrained_model_name_or_path, config, caller=cls.from_pretrained,
                                           **kwargs)
        weights, family = io.read_weights(files, from_tf=from_tf)
        config = config_for_weights(config, cls.__name__, list(weights), logger)
        model = cls(config)
        report = io.load_weights(model, weights, family, ignore_mismatched_sizes)
        report.log(logger, cls.__name__, files.folder)
        if torch_dtype is not None:
            model = model.to(torch_dtype)
        model.eval()
        if output_loading_info:
            return model, report.as_dict()
        return model

    def save_pretrained(
        self,
        save_directory: Union[str, os.PathLike],
        safe_serialization: bool = True,
        state_dict: Optional[Mapping[str, torch.Tensor]] = None,
        is_main_process: bool = True,
    ) -> None:
        """Write config.json and model.safetensors (or pytorch_model.bin), loadable by the reference too.

        All or nothing: both files are written to a staging folder and moved in only when complete, so an
        error or interrupt leaves ``save_directory`` as it was; the torch weight files of the other format (or
        an old shard index and its shards) are removed, so the folder cannot load old weights with the new config.

        Args:
            save_directory: the folder (created if missing).
            safe_serialization: safetensors (default) or a torch pickle.
            state_dict: save these tensors instead of ``self.state_dict()`` (a state dict gathered from a
                distributed wrapper); its keys must be this model's.
            is_main_process: ``False`` on the other ranks of a distributed run, which then write nothing.
        """
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"save_pretrained expects a directory, got the file {save_directory!r}")
        if state_dict is not None:
            own, given = set(self.state_dict()), set(state_dict)
            if own != given:
                raise ValueError(
                    f"state_dict does not hold {type(self).__name__}'s weights: missing {sorted(own - given)}, "
                    f"unexpected {sorted(given - own)}"
                )
        if not is_main_process:
            return
        config = self.config.copy(architectures=[type(self).__name__])  # the reference writes torch class names
        with Staging(save_directory, parents=True) as staging:  # all or nothing: config and weights together
            config.save_pretrained(staging.folder)
            io.save_weights(self, staging.folder, safe_serialization=safe_serialization, state_dict=state_dict)
            staging.commit(replaces=weight_file_names(save_directory, io.OWN_FORMATS))


class FrozenRelativeTables:
    """What ``freeze_relative_tables()`` returns: a context manager that unfreezes the model's tables on exit.

    Args:
        model: the frozen model.
    """

    def __init__(self, model: DebertaPreTrainedModel) -> None:
        self.model = model

    def __enter__(self) -> DebertaPreTrainedModel:
        return self.model

    def __exit__(self, *exc_info: Any) -> None:
        self.model.unfreeze_relative_tables()


class DebertaModel(DebertaPreTrainedModel):
    """The bare encoder: embeddings + disentangled-attention layers. Returns last_hidden_state etc.

    Args:
        config: the model's configuration (a ``DebertaConfig``).
    """

    def __init__(self, config: DebertaConfig) -> None:
        super().__init__(config)
        self.embeddings = DebertaEmbeddings(config)
        self.encoder = DebertaEncoder(config)
        self.post_init()

    @property
    def base_model(self) -> "DebertaModel":  # twin: base-model-accessor
        return self

    def forward(
        self,
        input_ids: Optional[torch.Tensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        token_type_ids: Optional[torch.Tensor] = None,
        position_ids: Optional[torch.Tensor] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
    ):
        """Encode a batch: embeddings, then every layer.

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
        input_shape = (input_ids if input_ids is not None else inputs_embeds).shape[:2]
        device = input_ids.device if input_ids is not None else inputs_embeds.device  # twin: torch-tracing
        if attention_mask is None:
            attention_mask = torch.ones(input_shape, dtype=torch.long, device=device)

        embedding_output = self.embeddings(
            input_ids=input_ids,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            mask=attention_mask,
            inputs_embeds=inputs_embeds,
        )  # [b, s, e]
        encoder_outputs = self.encoder(
            embedding_output,
            attention_mask,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
        )
        if not return_dict:
            return encoder_outputs.to_tuple()
        return encoder_outputs

    def enhanced_mask_decoder(
        self,
        hidden_states: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        position_ids: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """The enhanced mask decoder (config.enhanced_mask_decoder) on the second-to-last layer's output
        ``hidden_states`` [b, s, e]: the query stream starts as the raw absolute position embeddings of
        ``position_ids`` plus hidden_states, then runs through the last layer twice (DebertaEncoder.
        enhanced_mask_decoder). Returns [b, s, e] for the MaskedLM head."""
        if attention_mask is None:
            attention_mask = torch.ones(hidden_states.shape[:2], dtype=torch.long, device=hidden_states.device)
        query_states = self.embeddings.absolute_positions(hidden_states, position_ids) + hidden_states  # [b, s, e]
        return self.encoder.enhanced_mask_decoder(hidden_states, query_states, attention_mask)
