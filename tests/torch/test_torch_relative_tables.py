"""The relative-position tables are never stale (issue 21): by default every call projects them through the
modules, so whatever changes the weights or the projection modules is seen; ``freeze_relative_tables()`` is the
explicit serving switch. Each workflow runs on our model and on the reference (transformers.DebertaModel) holding
the same weights and taking the same steps, and the outputs must agree at the parity tolerance."""

import copy
import sys
import threading

import pytest
import torch
import transformers
from torch import nn

import deberta_torch
from deberta_torch.io import CheckpointLoadError

from conftest import ATOL_FP32, GRAD_ATOL_FP32, make_config
from torch_helpers import max_diff, random_model, reference_twin, torch_inputs, valid_rows


# bf16 keeps 8 significant bits (relative rounding 2^-9 ~ 2e-3 per op): the frozen table (fp32, cast once) and the
# per-call projection under autocast (bf16 GEMM) round at different points, so outputs of order 1 agree to a few
# roundings, not bit for bit.
ATOL_BF16 = 1e-2
# An optimizer step with this rate moves the weights enough that a stale table is off by far more than ATOL_FP32.
LR = 1e-2


def _pair(variant="rel_both", seed=3, **overrides):
    return reference_twin("DebertaModel", make_config(variant, **overrides), seed=seed)


def _out(model, inputs):
    with torch.no_grad():
        return model(**inputs).last_hidden_state


def _projections(model):
    """Every layer's (pos_proj, pos_q_proj), by the module names ours and the reference share."""
    base = getattr(model, "base_model", model)
    base = getattr(base, "model", base)  # a PEFT wrapper
    return [(layer.attention.self.pos_proj, layer.attention.self.pos_q_proj) for layer in base.encoder.layer]


def _agree(ours, reference, inputs, atol=ATOL_FP32):
    """Our output and the reference's agree on the valid positions (the reference's padded rows are not
    DeBERTa's: tests/fixtures/hf/README.md)."""
    got, expected = _out(ours, inputs), _out(reference, inputs)
    diff = max_diff(got, expected, valid_rows(inputs))
    assert diff <= atol, diff


def _step(model, inputs, optimizer):
    """One step on a loss over the valid positions (where ours and the reference agree)."""
    model(**inputs).last_hidden_state[valid_rows(inputs)].pow(2).mean().backward()
    optimizer.step()
    optimizer.zero_grad()


# ---------------------------------------------------------------------------------------------- the workflows
@pytest.mark.parametrize("optimizer", ["AdamW", "Adam", "SGD", "Adagrad"])
def test_fused_optimizer_steps_in_eval_mode_are_seen(optimizer):
    reference, ours = _pair()
    inputs = torch_inputs(ours.config)
    optimizers = [getattr(torch.optim, optimizer)(m.parameters(), lr=LR, fused=True) for m in (ours, reference)]
    for _ in range(3):
        _agree(ours, reference, inputs)  # a no-grad eval call between steps (the stale-table trigger)
        for model, opt in zip((ours, reference), optimizers):
            _step(model, inputs, opt)
    _agree(ours, reference, inputs)


def test_vector_to_parameters_from_an_aliased_vector_is_seen():
    reference, ours = _pair()
    inputs = torch_inputs(ours.config)
    vectors = []
    for model in (ours, reference):
        vector = nn.utils.parameters_to_vector(model.parameters())
        nn.utils.vector_to_parameters(vector, model.parameters())  # the parameters are now views of the vector
        vectors.append(vector)
    _agree(ours, reference, inputs)
    for vector in vectors:
        vector.mul_(1.5)  # writes every weight through the alias: no parameter's version counter moves
    _agree(ours, reference, inputs)


def _peft_pair(targets):
    peft = pytest.importorskip("peft")
    reference, ours = _pair()
    wrapped = []
    for model in (ours, reference):
        config = peft.LoraConfig(r=2, target_modules=targets, init_lora_weights=False)
        model = peft.get_peft_model(model, config)
        model.add_adapter("other", peft.LoraConfig(r=2, target_modules=targets, init_lora_weights=False))
        wrapped.append(model.eval())
    ours, reference = wrapped
    torch.manual_seed(0)
    with torch.no_grad():  # the same adapter factors in both, and large enough to matter
        for (name, param), (ref_name, ref_param) in zip(ours.named_parameters(), reference.named_parameters()):
            assert name == ref_name
            if "lora_" in name:
                param.copy_(torch.randn_like(param) * 0.3)
                ref_param.copy_(param)
    return ours, reference


@pytest.mark.parametrize("targets", [["pos_proj", "pos_q_proj"], "all-linear"])
def test_peft_adapter_switches_are_seen(targets):
    ours, reference = _peft_pair(targets)
    inputs = torch_inputs(ours.config)
    _agree(ours, reference, inputs)
    with ours.disable_adapter(), reference.disable_adapter():
        _agree(ours, reference, inputs)
    _agree(ours, reference, inputs)
    for model in (ours, reference):
        model.set_adapter("other")
    _agree(ours, reference, inputs)
    for model in (ours, reference):
        model.base_model.disable_adapter_layers()
    _agree(ours, reference, inputs)
    for model in (ours, reference):
        model.base_model.enable_adapter_layers()
        for pos_proj, pos_q_proj in _projections(model):
            pos_proj.scale_layer(3.0)
            pos_q_proj.scale_layer(0.5)
    _agree(ours, reference, inputs)


def test_hooks_registered_after_a_first_call_fire_and_apply():
    reference, ours = _pair()
    inputs = torch_inputs(ours.config)
    _agree(ours, reference, inputs)
    seen = []
    for model in (ours, reference):
        pos_proj, pos_q_proj = _projections(model)[0]
        pos_proj.register_forward_hook(lambda module, args, output: output * 1.5)
        pos_q_proj.register_forward_pre_hook(lambda module, args: (args[0] * 0.5,))
        pos_proj.register_forward_hook(lambda module, args, output: seen.append(output.shape))  # an observer
    _agree(ours, reference, inputs)
    assert len(seen) == 2  # the observer saw our call and the reference's


class FakeQuant(nn.Module):
    """A wrapper swapped in around a Linear (fake quantisation): rounds the output to a coarse grid."""

    def __init__(self, inner: nn.Linear) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.round(self.inner(x) * 4) / 4


def test_a_wrapper_swapped_in_around_the_projection_is_used():
    reference, ours = _pair()
    inputs = torch_inputs(ours.config)
    _agree(ours, reference, inputs)
    for model in (ours, reference):
        for layer in getattr(model, "encoder").layer:
            layer.attention.self.pos_proj = FakeQuant(layer.attention.self.pos_proj)
    _agree(ours, reference, inputs)


class Scale(nn.Module):
    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * 2.0


def test_parametrizations_added_and_removed_after_a_first_call_are_seen():
    from torch.nn.utils import parametrize

    reference, ours = _pair()
    inputs = torch_inputs(ours.config)
    _agree(ours, reference, inputs)
    for model in (ours, reference):
        parametrize.register_parametrization(_projections(model)[0][0], "weight", Scale())
    _agree(ours, reference, inputs)
    for model in (ours, reference):
        parametrize.remove_parametrizations(_projections(model)[0][0], "weight", leave_parametrized=False)
    _agree(ours, reference, inputs)


@pytest.mark.parametrize("write", ["data_copy", "data_inplace", "numpy_view"])
def test_writes_that_bypass_autograd_are_seen(write):
    reference, ours = _pair()
    inputs = torch_inputs(ours.config)
    _agree(ours, reference, inputs)
    for model in (ours, reference):
        weight = _projections(model)[0][0].weight
        bias = _projections(model)[0][1].bias
        if write == "data_copy":
            weight.data.copy_(torch.ones_like(weight) * 0.1)
        elif write == "data_inplace":
            weight.data.mul_(-2.0)
            bias.data.add_(0.5)
        else:
            weight.detach().numpy()[:] *= 3.0
    _agree(ours, reference, inputs)


def test_a_model_built_and_loaded_inside_inference_mode_runs(tmp_path):
    reference, ours = _pair()
    ours.save_pretrained(tmp_path)
    inputs = torch_inputs(ours.config)
    with torch.inference_mode():
        built = deberta_torch.DebertaModel(ours.config).eval()
        built.load_state_dict(ours.state_dict())
        loaded = deberta_torch.DebertaModel.from_pretrained(tmp_path)
        expected = reference(**inputs).last_hidden_state
        for model in (built, loaded):
            assert max_diff(model(**inputs).last_hidden_state, expected, valid_rows(inputs)) <= ATOL_FP32
            model.freeze_relative_tables()
            assert max_diff(model(**inputs).last_hidden_state, expected, valid_rows(inputs)) <= ATOL_FP32


# ---------------------------------------------------------------------------------------------- torch.func
def test_vmap_over_stacked_parameters_runs_a_model_ensemble():
    models = [random_model("DebertaModel", make_config(), seed) for seed in (1, 2, 3)]
    inputs = torch_inputs(models[0].config)
    params, buffers = torch.func.stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def run(p, b):
        return torch.func.functional_call(base, (p, b), (), dict(inputs)).last_hidden_state

    with torch.no_grad():
        stacked = torch.func.vmap(run)(params, buffers)
    for index, model in enumerate(models):
        assert max_diff(stacked[index], _out(model, inputs)) <= ATOL_FP32


def test_jvp_and_grad_match_the_reference():
    reference, ours = _pair()
    inputs = torch_inputs(ours.config)
    mask = inputs["attention_mask"]
    embeds = ours.embeddings.word_embeddings(inputs["input_ids"]).detach()
    tangent = torch.randn_like(embeds)

    def forward(model):
        return lambda x: model(inputs_embeds=x, attention_mask=mask).last_hidden_state

    results = [torch.func.jvp(forward(m), (embeds,), (tangent,)) for m in (ours, reference)]
    rows = valid_rows(inputs)
    assert max_diff(results[0][0], results[1][0], rows) <= ATOL_FP32
    assert max_diff(results[0][1], results[1][1], rows) <= GRAD_ATOL_FP32

    def loss(model):
        def value(params):
            out = torch.func.functional_call(model, params, (), dict(inputs)).last_hidden_state
            return out[valid_rows(inputs)].pow(2).mean()
        return value

    grads = [torch.func.grad(loss(m))(dict(m.named_parameters())) for m in (ours, reference)]
    for name, grad in grads[0].items():
        assert max_diff(grad, grads[1][name]) <= GRAD_ATOL_FP32, name


# ---------------------------------------------------------------------------------------------- threads
@pytest.mark.parametrize("frozen", [False, True])
def test_threads_sharing_one_model_in_mixed_precision_get_exact_outputs(frozen):
    model = random_model("DebertaModel", make_config(), seed=4)
    if frozen:
        model.freeze_relative_tables()
    inputs = torch_inputs(model.config)
    expected = {}
    for low in (False, True):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=low):
            expected[low] = model(**inputs).last_hidden_state.float()
    errors, worst = [], [0.0]
    calls = 2000

    def serve(index):
        try:
            for call in range(calls // 8):
                low = (index + call) % 2 == 1
                with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=low):
                    got = model(**inputs).last_hidden_state.float()
                worst[0] = max(worst[0], max_diff(got, expected[low]))
        except Exception as error:  # noqa: BLE001 - every failure is reported below
            errors.append(repr(error))

    threads = [threading.Thread(target=serve, args=(i,)) for i in range(8)]
    interval, intra_op = sys.getswitchinterval(), torch.get_num_threads()
    sys.setswitchinterval(1e-4)  # switch threads 50 times as often as by default, to give any race its chances
    torch.set_num_threads(1)  # the 8 serving threads are the parallelism (as in a server); no oversubscription
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
        torch.set_num_threads(intra_op)
    assert not errors, errors[:3]
    assert worst[0] <= ATOL_FP32, worst[0]  # each call agrees with the same call made alone


# ---------------------------------------------------------------------------------------------- untied decoder
@pytest.mark.bad_input("a masked-LM checkpoint saved with an untied decoder (tie_word_embeddings=False)",
                       CheckpointLoadError, "the checkpoint was saved with an untied decoder")
def test_an_untied_mlm_decoder_is_refused(tmp_path, expect_bad_input):
    config = make_config()
    ref_config = transformers.DebertaConfig(**{**config.to_dict(), "tie_word_embeddings": False})
    reference = transformers.DebertaForMaskedLM(ref_config).eval()
    with torch.no_grad():
        reference.cls.predictions.decoder.weight.normal_()
    reference.save_pretrained(tmp_path)
    with expect_bad_input():
        deberta_torch.DebertaForMaskedLM.from_pretrained(tmp_path)
    # the encoder alone loads (the decoder is a head weight the bare model does not use)
    deberta_torch.DebertaModel.from_pretrained(tmp_path)


def test_a_tied_mlm_checkpoint_saying_untied_loads_exactly(tmp_path):
    config = make_config()
    ref_config = transformers.DebertaConfig(**{**config.to_dict(), "tie_word_embeddings": False})
    reference = transformers.DebertaForMaskedLM(ref_config).eval()
    with torch.no_grad():
        reference.cls.predictions.decoder.weight.copy_(reference.deberta.embeddings.word_embeddings.weight)
    reference.save_pretrained(tmp_path)
    ours = deberta_torch.DebertaForMaskedLM.from_pretrained(tmp_path)
    inputs = torch_inputs(ours.config)
    with torch.no_grad():
        assert max_diff(ours(**inputs).logits, reference(**inputs).logits, valid_rows(inputs)) <= ATOL_FP32


# ---------------------------------------------------------------------------------------------- frozen tables
def _frozen_tables(model):
    return [layer.attention.self._frozen_tables for layer in model.encoder.layer]


def test_frozen_tables_are_projected_once_and_serve_exact_outputs():
    reference, ours = _pair()
    inputs = torch_inputs(ours.config)
    assert all(t is None for t in _frozen_tables(ours))  # the default keeps nothing
    _out(ours, inputs)
    assert all(t is None for t in _frozen_tables(ours))
    with ours.freeze_relative_tables() as frozen:
        assert frozen is ours
        _agree(ours, reference, inputs)
        kept = _frozen_tables(ours)
        assert all(t is not None for t in kept)
        _agree(ours, reference, inputs)
        assert all(a is b for a, b in zip(kept, _frozen_tables(ours)))  # reused
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = _out(ours, inputs)  # (the reference overflows under bf16 autocast: masked_fill of finfo.min)
    assert all(t is None for t in _frozen_tables(ours))  # the block unfroze
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert max_diff(low, _out(ours, inputs)) <= ATOL_BF16  # the per-call projection under autocast


def test_frozen_tables_are_a_promise_refreezing_sees_the_change():
    """While frozen, an eval-mode write is not seen (documented); freezing again projects the new weights."""
    reference, ours = _pair()
    inputs = torch_inputs(ours.config)
    ours.freeze_relative_tables()
    before = _out(ours, inputs)
    for model in (ours, reference):
        with torch.no_grad():
            _projections(model)[0][0].weight.mul_(2.0)
    assert torch.equal(_out(ours, inputs), before)  # frozen: the user's promise
    ours.freeze_relative_tables()
    _agree(ours, reference, inputs)
    ours.unfreeze_relative_tables()
    _agree(ours, reference, inputs)


@pytest.mark.parametrize("change", ["train_step", "to_double", "load_state_dict"])
def test_mode_changes_moves_and_loads_refreeze(change):
    reference, ours = _pair(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # train mode, same math
    inputs = torch_inputs(ours.config)
    ours.freeze_relative_tables()
    _agree(ours, reference, inputs)
    if change == "train_step":
        for model in (ours, reference):
            model.train()
            _step(model, {**inputs}, torch.optim.SGD(model.parameters(), lr=LR))
            model.eval()
    elif change == "to_double":
        ours.double()
        reference.double()
    else:
        other = random_model("DebertaModel", ours.config, seed=9)
        ours.load_state_dict(other.state_dict())
        reference.load_state_dict(other.state_dict())
    _agree(ours, reference, inputs)


def test_frozen_model_still_trains_the_projections():
    """Training calls, and eval calls with autograd on and weights requiring grad, project per call while frozen:
    the projections get their gradient."""
    model = random_model("DebertaModel", make_config(), seed=2)
    model.freeze_relative_tables()
    inputs = torch_inputs(model.config)
    _out(model, inputs)
    for training in (False, True):
        model.train(training)
        model.zero_grad()
        model(**inputs).last_hidden_state.pow(2).mean().backward()
        pos_proj = model.encoder.layer[0].attention.self.pos_proj
        assert pos_proj.weight.grad is not None and bool(pos_proj.weight.grad.abs().sum() > 0)
        assert model.encoder.rel_embeddings.weight.grad is not None


def test_compiled_model_reads_frozen_tables_and_sees_a_refreeze():
    reference, ours = _pair()
    inputs = torch_inputs(ours.config)
    compiled = torch.compile(ours, backend="aot_eager")
    ours.freeze_relative_tables()
    _out(ours, inputs)  # projected eagerly, then read by the graph
    with torch.no_grad():
        assert max_diff(compiled(**inputs).last_hidden_state, _out(reference, inputs), valid_rows(inputs)) <= ATOL_FP32
        for model in (ours, reference):
            _projections(model)[0][0].weight.mul_(-1.0)
    ours.freeze_relative_tables()
    _out(ours, inputs)
    with torch.no_grad():
        assert max_diff(compiled(**inputs).last_hidden_state, _out(reference, inputs), valid_rows(inputs)) <= ATOL_FP32
    ours.unfreeze_relative_tables()
    for model in (ours, reference):
        with torch.no_grad():
            _projections(model)[0][1].weight.mul_(0.5)
    with torch.no_grad():
        assert max_diff(compiled(**inputs).last_hidden_state, _out(reference, inputs), valid_rows(inputs)) <= ATOL_FP32

