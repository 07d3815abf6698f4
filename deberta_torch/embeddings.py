"""DebertaLayerNorm and DebertaEmbeddings (word + absolute position + token type, optional projection)."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from deberta_core import DebertaConfig


class DebertaLayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 whatever the input dtype (bf16/fp16 safe), cast back to it.

    Same parameters (``weight``, ``bias``) and the same math as the reference's TF-style LayerNorm.
    """

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        normed = F.layer_norm(hidden_states.float(), self.normalized_shape, self.weight.float(), self.bias.float(), self.eps)
        return normed.to(input_dtype)


class DebertaEmbeddings(nn.Module):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        self.embedding_size = config.embedding_size
        self.position_biased_input = config.position_biased_input
        self.word_embeddings = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=config.pad_token_id)
        if config.position_biased_input:
            self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.embedding_size)
        else:
            self.position_embeddings = None
        if config.type_vocab_size > 0:
            self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.embedding_size)
        else:
            self.token_type_embeddings = None
        if config.embedding_size != config.hidden_size:
            self.embed_proj = nn.Linear(config.embedding_size, config.hidden_size, bias=False)
        else:
            self.embed_proj = None
        self.LayerNorm = DebertaLayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        input_ids: Optional[torch.Tensor] = None,
        token_type_ids: Optional[torch.Tensor] = None,
        position_ids: Optional[torch.Tensor] = None,
        mask: Optional[torch.Tensor] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)  # [b, s, E]
        seq_length = inputs_embeds.shape[1]
        embeddings = inputs_embeds
        if self.position_embeddings is not None:
            if position_ids is None:
                position_ids = torch.arange(seq_length, device=inputs_embeds.device)[None, :]  # [1, s]
            embeddings = embeddings + self.position_embeddings(position_ids)
        if self.token_type_embeddings is not None:
            if token_type_ids is None:
                token_type_ids = torch.zeros(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)
            embeddings = embeddings + self.token_type_embeddings(token_type_ids)
        if self.embed_proj is not None:
            embeddings = self.embed_proj(embeddings)  # [b, s, E] -> [b, s, e]
        embeddings = self.LayerNorm(embeddings)
        if mask is not None:
            embeddings = embeddings * token_mask(mask).unsqueeze(-1).to(embeddings.dtype)  # [b, s, 1]
        embeddings = self.dropout(embeddings)
        return embeddings


def token_mask(mask: torch.Tensor) -> torch.Tensor:
    """The per-token mask [b, s] from a 2-D padding mask, or from a 3-D/4-D mask as the reference squeezes it."""
    if mask.dim() == 4:
        mask = mask.squeeze(1).squeeze(1)  # [b, 1, 1, s] -> [b, s]
    if mask.dim() == 3:
        mask = mask.squeeze(1) if mask.shape[1] == 1 else mask.diagonal(dim1=1, dim2=2)  # [b, s]
    return mask
