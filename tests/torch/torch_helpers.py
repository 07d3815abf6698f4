"""The torch twin's test helpers (mirror of tests/tf/tf_helpers.py): shared NumPy batches as torch tensors,
reference twins with random weights, run_model_test. Configs, variants, tolerances and batch builders are the
shared ones of tests/conftest.py."""

from __future__ import annotations

from typing import Dict, Mapping, Optional

import numpy as np
import torch
import transformers

import deberta_torch
from conftest import ATOL_FP32, fixture_architecture, make_inputs, make_labels, split_npz
from deberta_core import DebertaConfig
from deberta_torch.io import match_weights


def to_torch(arrays: Mapping[str, np.ndarray]) -> Dict[str, torch.Tensor]:
    return {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in arrays.items()}


def torch_inputs(config: DebertaConfig, lengths=(11, 7, 3), seed: int = 0) -> Dict[str, torch.Tensor]:
    """The shared padded batch (conftest.make_inputs) as torch tensors."""
    return to_torch(make_inputs(config, lengths, seed))


def torch_labels(head: str, config: DebertaConfig, inputs, seed: int = 1) -> Dict[str, torch.Tensor]:
    """The shared labels (conftest.make_labels) of ``head`` for torch ``inputs``, as torch tensors."""
    return to_torch(make_labels(head, config, {k: v.numpy() for k, v in inputs.items()}, seed))


def npz_inputs(expected) -> Dict[str, torch.Tensor]:
    """The inputs recorded in a fixture's expected*.npz, as torch tensors."""
    return to_torch(split_npz(expected)[0])


def npz_labels(expected) -> Dict[str, torch.Tensor]:
    """The labels recorded in a fixture's expected*.npz, as torch tensors."""
    return to_torch(split_npz(expected)[1])


def randomize_(module: torch.nn.Module, seed: int) -> None:
    """Overwrite every parameter with seeded random values so biases, norms and q/v biases all matter."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, param in sorted(module.named_parameters()):
            param.copy_(torch.randn(param.shape, generator=gen) * 0.2)


def random_model(head: str, config: DebertaConfig, seed: int = 0) -> torch.nn.Module:
    """``head`` built from ``config`` with seeded random weights, in eval mode."""
    model = getattr(deberta_torch, head)(config).eval()
    randomize_(model, seed)
    return model


def reference_twin(head: str, config: DebertaConfig, seed: int = 0):
    """(reference model, our model) with the same random weights, both in eval mode."""
    ref_config = transformers.DebertaConfig(**config.to_dict())
    if not config.use_legacy_mlm_head:
        # transformers 4.57 ties lm_predictions.lm_head.dense to the word embeddings (a bug the fixtures README
        # records); untying is how it runs the original head at all.
        ref_config.tie_word_embeddings = False
    reference = getattr(transformers, head)(ref_config).eval()
    randomize_(reference, seed)
    ours = getattr(deberta_torch, head)(config).eval()
    state = {k: v for k, v in reference.state_dict().items()}
    to_load, report = match_weights(ours, state, "torch")
    assert not report.missing_keys and not report.unexpected_keys, report
    ours.load_state_dict(to_load, strict=True)
    return reference, ours


def max_diff(a: torch.Tensor, b: torch.Tensor, rows: Optional[torch.Tensor] = None) -> float:
    """max |a - b|, over the rows selected by a [b, s] boolean mask when given (valid positions)."""
    a, b = a.detach().float(), b.detach().float()
    if rows is not None:
        a, b = a[rows], b[rows]
    return float((a - b).abs().max()) if a.numel() else 0.0


def run_model_test(cls, config: DebertaConfig, inputs: Dict[str, torch.Tensor], expected_shape) -> object:
    """Build ``cls(config)``, run it on ``inputs`` (eval, no grad), check the main output's shape, the tuple
    form, and that no NaN/inf comes out; return the outputs."""
    model = cls(config).eval()
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True, output_attentions=True)
        as_tuple = model(**inputs, return_dict=False)
    main = out[0] if "loss" not in out else out[1]
    assert tuple(main.shape) == tuple(expected_shape), (tuple(main.shape), expected_shape)
    assert torch.isfinite(main).all()
    assert len(out.hidden_states) == config.num_hidden_layers + 1
    assert len(out.attentions) == config.num_hidden_layers
    assert max_diff(as_tuple[0], out[0]) <= ATOL_FP32  # tuple form (fused path) == dict form (exact path)
    return out


def valid_rows(inputs) -> torch.Tensor:
    return inputs["attention_mask"].bool()


def fixture_class(name: str):
    """The deberta_torch class of a reference fixture folder (``p1_rel_c2p_p2c__mlm_nolegacy_hublike`` -> MaskedLM)."""
    return getattr(deberta_torch, fixture_architecture(name))
