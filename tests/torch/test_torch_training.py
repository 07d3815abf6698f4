"""Training the torch twin (mirror of tests/tf/test_tf_training.py): a short loop drives every head's loss down,
gradient checkpointing gives the same gradients, bf16 autocast stays finite with padded and fully masked rows.
DistributedDataParallel is tested across two real processes in tests/e2e/test_distributed_torch.py."""

import pytest
import torch

import deberta_torch

from conftest import ATOL_FP32, HEADS
from torch_helpers import max_diff, random_model, torch_inputs, torch_labels


def test_bf16_autocast_is_finite_with_padding_and_fully_masked_rows(tiny_config):
    model = random_model("DebertaForMaskedLM", tiny_config("rel_both", num_labels=3))
    inputs = torch_inputs(model.config, lengths=(9, 4, 1))
    inputs["attention_mask"][2] = 0
    labels = torch_labels("DebertaForMaskedLM", model.config, torch_inputs(model.config, lengths=(9, 4, 1)))
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(**inputs, **labels)
        exact = model(**inputs, output_attentions=True)
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.loss)
    assert all(torch.isfinite(a).all() for a in exact.attentions)
    out.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_gradient_checkpointing_gives_the_same_gradients(tiny_config):
    model = random_model("DebertaForTokenClassification", tiny_config("embproj", num_labels=3))
    inputs = torch_inputs(model.config)
    labels = torch_labels("DebertaForTokenClassification", model.config, inputs)
    model.train()
    for module in model.modules():  # no dropout: the two runs must be comparable
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    model(**inputs, **labels).loss.backward()
    plain = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.gradient_checkpointing_enable()
    assert model.is_gradient_checkpointing
    model(**inputs, **labels).loss.backward()
    for name, param in model.named_parameters():
        assert max_diff(plain[name], param.grad) <= ATOL_FP32, name


@pytest.mark.parametrize("head", HEADS[1:])
def test_short_training_loop_drives_the_loss_down(head, tiny_config):
    torch.manual_seed(0)
    config = tiny_config("rel_both", num_labels=2 if head == "DebertaForQuestionAnswering" else 3)
    model = getattr(deberta_torch, head)(config)
    inputs = torch_inputs(config, lengths=(12, 9, 6, 12))
    labels = torch_labels(head, config, inputs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    losses = []
    for _ in range(25):
        optimizer.zero_grad()
        loss = model(**inputs, **labels).loss
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        eval_loss = float(model(**inputs, **labels).loss)
    assert losses[-1] < 0.5 * losses[0] and eval_loss < 0.5 * losses[0], losses
