"""The torch twin's models (mirror of tests/tf/test_tf_models.py): shapes of every head, fused vs exact
attention, long sequences, input forms, torch.compile / torch.export / ONNX, resizing, the activations.
Training (loops, gradient checkpointing, bf16 autocast) is in test_torch_training.py."""

import numpy as np
import pytest
import torch

import deberta_torch
from deberta_core.config import ACTIVATIONS
from deberta_torch.activations import ACT2FN

from conftest import ATOL_FP32, HEADS
from torch_helpers import max_diff, random_model, run_model_test, torch_inputs

# ONNX Runtime's kernels differ from torch's more than two torch paths do (fused GELU/LayerNorm, reassociation).
ATOL_ONNX = 1e-4


def test_activation_set_matches_core():
    assert set(ACT2FN) == set(ACTIVATIONS)


@pytest.mark.parametrize("head", HEADS)
def test_every_head_shapes(head, tiny_config):
    config = tiny_config("embproj", num_labels=2 if head == "DebertaForQuestionAnswering" else 3)
    inputs = torch_inputs(config)
    batch, seq = inputs["input_ids"].shape
    expected = {
        "DebertaModel": (batch, seq, config.hidden_size),
        "DebertaForMaskedLM": (batch, seq, config.vocab_size),
        "DebertaForSequenceClassification": (batch, 3),
        "DebertaForTokenClassification": (batch, seq, 3),
        "DebertaForQuestionAnswering": (batch, seq),
    }[head]
    run_model_test(getattr(deberta_torch, head), config, inputs, expected)


@pytest.mark.parametrize("variant", ["rel_both", "abs_only_types", "embproj"])
def test_fused_and_exact_attention_agree_on_every_position(variant, tiny_config):
    model = random_model("DebertaModel", tiny_config(variant, num_labels=3))
    inputs = torch_inputs(model.config, lengths=(9, 4, 1))
    inputs["attention_mask"][2] = 0  # a row with no valid token at all
    with torch.no_grad():
        exact = model(**inputs, output_attentions=True, output_hidden_states=True)
        fused = model(**inputs, output_hidden_states=True)
    for a, b in zip(exact.hidden_states, fused.hidden_states):
        assert max_diff(a, b) <= ATOL_FP32
    for probs in exact.attentions:
        mask = inputs["attention_mask"].bool()
        assert torch.all(probs.masked_select(~mask[:, None, None, :]) == 0)  # masked keys: exactly 0
        assert torch.all(probs[~mask[:, None, :, None].expand_as(probs)] == 0)  # padded query rows: all zero
        assert torch.all(probs[2] == 0)
    assert torch.isfinite(fused.last_hidden_state).all()


def test_sequences_longer_than_512_with_relative_positions_only(tiny_config):
    config = tiny_config("rel_both", max_position_embeddings=512, max_relative_positions=-1)
    model = deberta_torch.DebertaModel(config).eval()
    ids = torch.randint(1, config.vocab_size, (1, 700))
    with torch.no_grad():
        out = model(ids)
    assert out.last_hidden_state.shape == (1, 700, config.hidden_size)
    assert torch.isfinite(out.last_hidden_state).all()
    # With absolute positions the length is limited: tests/twins/test_twin_inputs.py.


def test_mask_forms_and_inputs_embeds(tiny_config):
    model = random_model("DebertaModel", tiny_config("rel_both", num_labels=3))
    inputs = torch_inputs(model.config)
    mask2d = inputs["attention_mask"]
    with torch.no_grad():
        base = model(**inputs).last_hidden_state
        mask3d = mask2d[:, :, None] * mask2d[:, None, :]
        from_3d = model(inputs["input_ids"], attention_mask=mask3d).last_hidden_state
        from_4d = model(inputs["input_ids"], attention_mask=mask3d[:, None]).last_hidden_state
        embeds = model.embeddings.word_embeddings(inputs["input_ids"])
        from_embeds = model(inputs_embeds=embeds, attention_mask=mask2d).last_hidden_state
    for other in (from_3d, from_4d, from_embeds):
        assert max_diff(base, other) <= ATOL_FP32


def test_torch_compile_fullgraph_has_no_graph_breaks(tiny_config):
    model = random_model("DebertaForSequenceClassification", tiny_config("rel_both", num_labels=3))
    inputs = torch_inputs(model.config)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        eager = model(**inputs).logits
        out = compiled(**inputs).logits
    assert max_diff(eager, out) <= ATOL_FP32


def test_torch_export_with_dynamic_sequence(tiny_config):
    model = random_model("DebertaModel", tiny_config("rel_both", num_labels=3))
    seq = torch.export.Dim("seq", min=2, max=64)
    inputs = torch_inputs(model.config, lengths=(10, 6))
    program = torch.export.export(
        model, (inputs["input_ids"], inputs["attention_mask"]),
        dynamic_shapes=({1: seq}, {1: seq}),
    )
    for lengths in ((10, 6), (17, 3)):
        other = torch_inputs(model.config, lengths=lengths, seed=4)
        with torch.no_grad():
            expected = model(other["input_ids"], other["attention_mask"]).last_hidden_state
        got = program.module()(other["input_ids"], other["attention_mask"]).last_hidden_state
        assert max_diff(expected, got) <= ATOL_FP32


def test_onnx_export_matches_eager_at_two_lengths(tmp_path, tiny_config):
    onnxruntime = pytest.importorskip("onnxruntime", reason="the optional [onnx] extra is not installed")

    class Wrapper(torch.nn.Module):  # plain tensors in and out for the exporter
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids, attention_mask=attention_mask).logits

    model = random_model("DebertaForSequenceClassification", tiny_config("rel_both", num_labels=3))
    inputs = torch_inputs(model.config, lengths=(10, 6))
    path = tmp_path / "model.onnx"
    seq = torch.export.Dim("seq", min=2, max=64)
    batch = torch.export.Dim("batch", min=1, max=16)
    torch.onnx.export(
        Wrapper(model).eval(), (inputs["input_ids"], inputs["attention_mask"]), str(path),
        input_names=["input_ids", "attention_mask"], output_names=["logits"],
        dynamic_shapes=({0: batch, 1: seq}, {0: batch, 1: seq}), dynamo=True,
    )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for lengths in ((10, 6), (23, 5, 9)):
        other = torch_inputs(model.config, lengths=lengths, seed=7)
        with torch.no_grad():
            expected = model(**other).logits.numpy()
        got = session.run(["logits"], {k: other[k].numpy() for k in ("input_ids", "attention_mask")})[0]
        assert np.abs(expected - got).max() <= ATOL_ONNX


def test_resize_token_embeddings_keeps_rows_and_ties_the_decoder(tiny_config):
    model = random_model("DebertaForMaskedLM", tiny_config("rel_both", num_labels=3))
    old = model.get_input_embeddings().weight.detach().clone()
    model.resize_token_embeddings(150)
    new = model.get_input_embeddings().weight
    assert new.shape == (150, model.config.hidden_size) and torch.equal(new[:120], old)
    assert model.config.vocab_size == 150 and model.output_bias.shape == (150,)
    with torch.no_grad():
        logits = model(**torch_inputs(model.config)).logits
    assert logits.shape[-1] == 150
    assert model.get_output_embeddings() is model.get_input_embeddings()
    with pytest.raises(ValueError, match="new_num_tokens must be a positive integer"):
        model.resize_token_embeddings(0)


@pytest.mark.bad_input("a dict instead of a DebertaConfig (torch)", TypeError, "expected a deberta_core.DebertaConfig")
def test_constructor_rejects_other_configs(expect_bad_input):
    with expect_bad_input():
        deberta_torch.DebertaModel({"hidden_size": 32})


@pytest.mark.bad_input("question answering with num_labels 3 (torch)", ValueError,
                       "question answering needs num_labels == 2 (start and end logits), got 3")
def test_question_answering_needs_two_labels(tiny_config, expect_bad_input):
    with expect_bad_input():
        deberta_torch.DebertaForQuestionAnswering(tiny_config("rel_both", num_labels=3))


def test_original_mlm_head_with_embedding_projection_round_trips_through_the_map(tmp_path, tiny_config):
    """embedding_size != hidden_size with the original lm_predictions naming: the map, our torch model and
    its saved file agree on every shape (the reference cannot build this head)."""
    from deberta_core import weight_map

    config = tiny_config("embproj", legacy=False)
    model = deberta_torch.DebertaForMaskedLM(config).eval()
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for entry in weight_map.expand(config, "DebertaForMaskedLM"):
        assert shapes.pop(entry.torch_key) == entry.torch_shape
    assert shapes == {}
    model.save_pretrained(tmp_path)
    again = deberta_torch.DebertaForMaskedLM.from_pretrained(tmp_path)
    inputs = torch_inputs(config)
    with torch.no_grad():
        assert max_diff(model(**inputs).logits, again(**inputs).logits) == 0.0
