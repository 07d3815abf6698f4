"""DebertaPreTrainedModel (init, loading, saving, embeddings resizing) and DebertaModel (the encoder)."""

from __future__ import annotations

import logging
import os
from typing import Any, Optional, Union

import torch
from torch import nn

from deberta_core import DebertaConfig, ModelOutput
from deberta_core.files import resolve_checkpoint

from . import io
from .attention import DisentangledSelfAttention
from .embeddings import DebertaEmbeddings, DebertaLayerNorm
from .encoder import DebertaEncoder

logger = logging.getLogger("deberta_torch")


def _register_model_output_pytree() -> None:
    """Let torch.export / torch.compile see through ModelOutput (an ordered mapping of tensors)."""
    from torch.utils import _pytree

    try:
        _pytree.register_pytree_node(
            ModelOutput,
            lambda out: (list(out.values()), list(out.keys())),
            lambda values, keys: ModelOutput(zip(keys, values)),
            serialized_type_name="deberta_core.outputs.ModelOutput",
        )
    except ValueError:  # already registered (module reloaded)
        pass


_register_model_output_pytree()

_HUB_KWARGS = ("cache_dir", "revision", "token", "local_files_only")


class DebertaPreTrainedModel(nn.Module):
    """Base of every model: weight init, ``from_pretrained`` / ``save_pretrained``, gradient checkpointing."""

    config_class = DebertaConfig
    base_model_prefix = "deberta"

    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        if not isinstance(config, DebertaConfig):
            raise TypeError(f"expected a deberta_core.DebertaConfig, got {type(config).__name__}")
        self.config = config

    # ------------------------------------------------------------------ init
    def post_init(self) -> None:
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
    def base_model(self) -> "DebertaModel":
        return getattr(self, self.base_model_prefix, self)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.base_model.embeddings.word_embeddings

    def set_input_embeddings(self, new_embeddings: nn.Embedding) -> None:
        self.base_model.embeddings.word_embeddings = new_embeddings

    def resize_token_embeddings(self, new_num_tokens: int) -> nn.Embedding:
        """Grow or shrink the vocabulary; new rows are initialised like the rest, tied heads follow."""
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

    # ------------------------------------------------------------------ training helpers
    def gradient_checkpointing_enable(self) -> None:
        self.base_model.encoder.gradient_checkpointing = True

    def gradient_checkpointing_disable(self) -> None:
        self.base_model.encoder.gradient_checkpointing = False

    @property
    def is_gradient_checkpointing(self) -> bool:
        return self.base_model.encoder.gradient_checkpointing

    def num_parameters(self, only_trainable: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not only_trainable)

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
        from_tf: bool = False,
        torch_dtype: Optional[torch.dtype] = None,
        ignore_mismatched_sizes: bool = False,
        output_loading_info: bool = False,
        **kwargs: Any,
    ):
        """Load a checkpoint folder (or hub id with the [hub] extra) written by this package or the reference.

        Reads model.safetensors (or its shards), else pytorch_model.bin (weights_only=True); with
        ``from_tf=True``, the reference's tf_model.h5. Other keyword arguments override config fields
        (``num_labels=3``, ``problem_type=...``). Missing, unexpected and mis-shaped weights of the encoder are
        reported together in one CheckpointLoadError; a fresh task head on a base checkpoint is a warning.
        """
        hub_kwargs = {k: kwargs.pop(k) for k in _HUB_KWARGS if k in kwargs}
        files = resolve_checkpoint(os.fspath(pretrained_model_name_or_path), **hub_kwargs)
        if config is None:
            if files.config is None:
                raise FileNotFoundError(f"no config.json in {files.folder!r}; pass config= explicitly")
            config = DebertaConfig.from_json_file(files.config, **kwargs)
        elif kwargs:
            config = config.copy(**kwargs)
        unused_tf_weights: list = []
        if from_tf:
            state, unused_tf_weights = io.read_tf_weights(files, config, cls.__name__)
        else:
            state = io.read_torch_weights(files)
        config = cls._prepare_config_for_state(config, list(state))
        model = cls(config)
        to_load, report = io.match_state_dict(model, state, config, ignore_mismatched_sizes)
        report.unexpected_keys += unused_tf_weights
        model.load_state_dict(to_load, strict=False)
        for kind, keys in (("newly initialised", report.missing_keys), ("not used", report.unexpected_keys)):
            if keys:
                logger.warning("%s.from_pretrained(%s): weights %s: %s", cls.__name__, files.folder, kind, keys)
        if torch_dtype is not None:
            model = model.to(torch_dtype)
        model.eval()
        if output_loading_info:
            return model, report.as_dict()
        return model

    def save_pretrained(self, save_directory: Union[str, os.PathLike], safe_serialization: bool = True) -> None:
        """Write config.json and model.safetensors (or pytorch_model.bin), loadable by the reference too."""
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"save_pretrained expects a directory, got the file {save_directory!r}")
        config = self.config.copy(architectures=[type(self).__name__])
        config.save_pretrained(save_directory)
        io.save_torch_weights(self.state_dict(), save_directory, safe_serialization=safe_serialization)


class DebertaModel(DebertaPreTrainedModel):
    """The bare encoder: embeddings + disentangled-attention layers. Returns last_hidden_state etc."""

    def __init__(self, config: DebertaConfig) -> None:
        super().__init__(config)
        self.embeddings = DebertaEmbeddings(config)
        self.encoder = DebertaEncoder(config)
        self.post_init()

    @property
    def base_model(self) -> "DebertaModel":
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
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if input_ids is not None and inputs_embeds is not None:
            raise ValueError("pass either input_ids or inputs_embeds, not both")
        if input_ids is not None:
            if input_ids.dim() != 2:
                raise ValueError(f"input_ids must be [batch, sequence], got shape {tuple(input_ids.shape)}")
            input_shape = input_ids.shape
            device = input_ids.device
        elif inputs_embeds is not None:
            if inputs_embeds.dim() != 3:
                raise ValueError(f"inputs_embeds must be [batch, sequence, embedding], got shape {tuple(inputs_embeds.shape)}")
            input_shape = inputs_embeds.shape[:2]
            device = inputs_embeds.device
        else:
            raise ValueError("pass input_ids or inputs_embeds")
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
