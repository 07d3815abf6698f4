"""Named model configurations: the published deberta-base/large shapes, and small ones for demos and tests."""

from __future__ import annotations

from typing import Any, Dict

_BASE_SHAPE = dict(
    vocab_size=50265,
    max_position_embeddings=512,
    relative_attention=True,
    pos_att_type="c2p|p2c",
    position_biased_input=False,
    max_relative_positions=-1,
    type_vocab_size=0,
    layer_norm_eps=1e-7,
    hidden_act="gelu",
    pooler_hidden_act="gelu",
)

PRESETS: Dict[str, Dict[str, Any]] = {
    # The architecture of microsoft/deberta-base (weights not included).
    "deberta-base": dict(_BASE_SHAPE, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                         intermediate_size=3072),
    # The architecture of microsoft/deberta-large.
    "deberta-large": dict(_BASE_SHAPE, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                          intermediate_size=4096),
    # `make demo`: trains from scratch in minutes on a 2-core CPU, with the deberta-base tokenizer's vocabulary.
    "deberta-demo-small": dict(_BASE_SHAPE, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                               intermediate_size=1024, max_position_embeddings=256),
    # Unit tests and smoke runs.
    "deberta-tiny": dict(_BASE_SHAPE, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=128),
}


def preset_config(name: str, **overrides: Any):
    """A DebertaConfig for a named preset, with fields overridden by keyword.

    Args:
        name: the preset (a key of ``PRESETS``: ``"deberta-base"``, ``"deberta-tiny"``, ...).
        **overrides: config fields to set instead of the preset's (``num_labels=3``).

    Returns:
        The config.

    Raises:
        ValueError: ``name`` is not a preset.
    """
    from .config import DebertaConfig

    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}")
    return DebertaConfig(**{**PRESETS[name], **overrides})
