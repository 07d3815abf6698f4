"""The inference fast paths stay exact: frozen relative tables (freeze_relative_tables), gather-free relative
shifts (clamped and not), the buffers eager inference shares across layers, the mask passes skipped when nothing is
masked. tests/torch/test_torch_relative_tables.py runs the workflows that change weights and modules."""

import copy

import pytest
import torch

from deberta_torch import kernels

from conftest import ATOL_FP32, make_config
from torch_helpers import max_diff, random_model, reference_twin, torch_inputs, valid_rows


# bf16 keeps 8 significant bits (relative rounding 2^-9 ~ 2e-3 per op): the frozen and the per-call paths round at
# different points (the fp32 table cast once vs a bf16 projection of the window), so their outputs of order 1
# agree to a few roundings (3.9e-3 seen), not bit for bit.
ATOL_BF16 = 1e-2


def _model(variant="rel_both", seed=0, **overrides):
    return random_model("DebertaModel", make_config(variant, **overrides), seed)


def _attention(model):
    return model.encoder.layer[0].attention.self


def _tables(model):
    return _attention(model)._frozen_tables


def _reference_output(model, inputs):
    """The same weights in a fresh model, run with autograd on (per-call tables, no shared buffers)."""
    fresh = copy.deepcopy(model)
    fresh.unfreeze_relative_tables()
    with torch.enable_grad():
        return fresh(**inputs).last_hidden_state.detach()


def test_frozen_tables_are_kept_and_match_the_per_call_path():
    model = _model()
    inputs = torch_inputs(model.config)
    with torch.no_grad():
        per_call = model(**inputs).last_hidden_state
        assert _tables(model) is None  # the default keeps nothing
        model.freeze_relative_tables()
        first = model(**inputs).last_hidden_state
        kept = _tables(model)
        second = model(**inputs).last_hidden_state
    assert kept is not None and _tables(model) is kept  # reused, not recomputed
    assert torch.equal(first, second)
    assert max_diff(first, per_call) <= ATOL_FP32
    assert max_diff(first, _reference_output(model, inputs)) <= ATOL_FP32


@pytest.mark.parametrize("change", ["optimizer_step", "load_state_dict", "inplace_no_grad", "data_assignment",
                                    "rel_embeddings"])
def test_a_changed_weight_is_seen_by_the_next_call(change):
    model = _model()
    inputs = torch_inputs(model.config)
    with torch.inference_mode():
        model(**inputs)
    layer = _attention(model)
    if change == "optimizer_step":
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        model(**inputs).last_hidden_state.pow(2).mean().backward()
        optimizer.step()
        model.eval()
    elif change == "load_state_dict":
        other = _model(seed=5)
        model.load_state_dict(other.state_dict())
    elif change == "inplace_no_grad":
        with torch.no_grad():
            layer.pos_q_proj.bias.add_(0.5)
    elif change == "data_assignment":
        layer.pos_proj.weight.data = torch.randn_like(layer.pos_proj.weight)
    else:
        with torch.no_grad():
            model.encoder.rel_embeddings.weight.mul_(1.5)
    with torch.inference_mode():
        got = model(**inputs).last_hidden_state
    assert max_diff(got, _reference_output(model, inputs)) <= ATOL_FP32


def test_autocast_calls_and_plain_calls_share_one_frozen_table():
    """The frozen table keeps the weights' dtype; a bf16 autocast call casts its window, so plain and autocast
    calls alternate on one table without failing or computing with the other precision's."""
    model = _model()
    inputs = torch_inputs(model.config)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        reference_low = _reference_output(model, inputs)
    model.freeze_relative_tables()
    with torch.inference_mode():
        plain = model(**inputs).last_hidden_state
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(**inputs).last_hidden_state
        again = model(**inputs).last_hidden_state
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low_again = model(**inputs).last_hidden_state
    assert _tables(model)[0].dtype == torch.float32
    assert torch.equal(plain, again) and torch.equal(low, low_again)
    assert max_diff(plain, _reference_output(model, inputs)) <= ATOL_FP32
    assert max_diff(low, reference_low) <= ATOL_BF16


def test_adapter_weights_on_the_projections_get_their_gradient_and_are_seen():
    """LoRA on pos_proj / pos_q_proj with the base frozen, trained in eval mode (no dropout): the adapter's factors
    get their gradient, and after each step the next inference call sees the new factors."""
    peft = pytest.importorskip("peft")
    model = peft.get_peft_model(_model(), peft.LoraConfig(r=2, target_modules=["pos_proj", "pos_q_proj"],
                                                          init_lora_weights=False))
    model.eval()
    inputs = torch_inputs(model.config)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    for _ in range(2):
        with torch.inference_mode():
            got = model(**inputs).last_hidden_state
        assert max_diff(got, _reference_output(model, inputs)) <= ATOL_FP32
        model(**inputs).last_hidden_state.pow(2).mean().backward()
        factor = model.base_model.model.encoder.layer[0].attention.self.pos_proj.lora_A["default"].weight
        assert factor.grad is not None and bool(factor.grad.abs().sum() > 0)
        optimizer.step()
        optimizer.zero_grad()


def test_tables_frozen_under_inference_mode_serve_a_frozen_model_with_input_gradients():
    model = _model()
    inputs = torch_inputs(model.config)
    model.freeze_relative_tables()
    with torch.inference_mode():
        model(**inputs)  # tables projected inside inference mode
    assert _tables(model) is not None
    model.requires_grad_(False)
    embeds = model.embeddings.word_embeddings(inputs["input_ids"]).requires_grad_(True)
    out = model(inputs_embeds=embeds, attention_mask=inputs["attention_mask"]).last_hidden_state
    out.sum().backward()  # would raise if the frozen tables were inference tensors
    assert embeds.grad is not None and torch.isfinite(embeds.grad).all()


@pytest.mark.parametrize("variant, lengths", [
    ("rel_both", (11, 7, 3)),  # no clamping
    ("embproj", (11, 7, 3)),  # span 5 < s: clamped c2p and p2c
    ("rel_c2p_clamp", (13, 13)),  # c2p only, clamped, no padding
    ("rel_p2c_abs", (12, 2)),  # p2c only, clamped
])
@pytest.mark.parametrize("frozen", [False, True])
def test_inference_paths_match_the_reference(variant, lengths, frozen):
    reference, ours = reference_twin("DebertaModel", make_config(variant), seed=3)
    inputs = torch_inputs(ours.config, lengths=lengths)
    if frozen:
        ours.freeze_relative_tables()
    with torch.inference_mode():
        expected = reference(**inputs).last_hidden_state
        got = ours(**inputs).last_hidden_state
    assert max_diff(got, expected, valid_rows(inputs)) <= ATOL_FP32


def test_clamped_terms_widened_a_few_heads_at_a_time_stay_exact(monkeypatch):
    """Eager inference widens clamped products in head groups within WIDE_BYTES; force one head per group."""
    model = _model("embproj")
    inputs = torch_inputs(model.config, lengths=(11, 7, 3))
    expected = _reference_output(model, inputs)
    monkeypatch.setattr(kernels, "WIDE_BYTES", 1)
    with torch.no_grad():
        got = model(**inputs).last_hidden_state
    assert max_diff(got, expected) <= ATOL_FP32


def test_no_gather_and_no_index_tensor_of_attention_size():
    """The relative terms are views and adds: no gather/index op, no integer tensor of [b, h, s, s] elements."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Recorder(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops, self.int_numels = set(), []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            self.ops.add(func.overloadpacket.__name__)
            for tensor in out if isinstance(out, (tuple, list)) else (out,):
                if isinstance(tensor, torch.Tensor) and not tensor.dtype.is_floating_point and tensor.dtype != torch.bool:
                    self.int_numels.append(tensor.numel())
            return out

    model = _model("embproj")
    inputs = torch_inputs(model.config, lengths=(11, 7, 3))
    batch, seq = inputs["input_ids"].shape
    for grad in (False, True):
        with torch.set_grad_enabled(grad), Recorder() as recorder:
            model(**inputs)
        assert not recorder.ops & {"gather", "index", "take_along_dim", "index_select"} - {"embedding"}, recorder.ops
        assert max(recorder.int_numels, default=0) < batch * model.config.num_attention_heads * seq * seq


def test_unmasked_batches_skip_the_mask_and_match_the_masked_path():
    model = _model()
    inputs = torch_inputs(model.config, lengths=(9, 9))
    with torch.no_grad():
        plain = model(inputs["input_ids"]).last_hidden_state  # no mask at all
        fully_visible = model(**inputs).last_hidden_state
        exact = model(**inputs, output_attentions=True).last_hidden_state  # the eager path always masks
    assert torch.equal(plain, fully_visible)
    assert max_diff(plain, exact) <= ATOL_FP32


def test_the_encoder_checks_the_mask_once_and_the_layers_get_none_when_nothing_is_masked():
    model = _model()
    seen = []
    for layer in model.encoder.layer:
        layer.register_forward_pre_hook(lambda module, args: seen.append(args[1]))
    visible, padded = torch_inputs(model.config, lengths=(9, 9)), torch_inputs(model.config, lengths=(9, 4))
    with torch.no_grad():
        model(**visible)
        assert seen and all(mask is None for mask in seen)
        seen.clear()
        model(**padded)
        assert seen and all(mask is not None and not bool(mask.all()) for mask in seen)
        seen.clear()
        model(**visible, output_attentions=True)  # the exact path masks
        assert seen and all(mask is not None for mask in seen)
