"""The tools people train PyTorch models with, on our models: transformers.Trainer (the [dev] release, and the
calls transformers 5's Trainer makes), accelerate.Accelerator, and PEFT LoRA (train, save, load, merge).

Tiny configs, two optimizer steps each: these prove the tools drive our models with the right semantics, not
that they learn (tests/torch/test_features.py does that)."""

from __future__ import annotations

import copy
import inspect
import os

import pytest
import torch

import deberta_torch
from deberta_core import DebertaConfig
from conftest import ATOL_FP32, make_config
from torch_helpers import max_diff, torch_inputs as make_inputs, torch_labels as make_labels

transformers = pytest.importorskip("transformers")
from transformers import Trainer, TrainerCallback, TrainingArguments  # noqa: E402
from transformers.utils import find_labels  # noqa: E402

ROWS = (11, 7, 3, 9, 5, 11, 4, 8)  # eight rows, padded to 11 tokens
BATCH = 4
# (case id, head, config overrides); the three sequence-classification problem types each have their own loss.
CASES = [
    ("mlm", "DebertaForMaskedLM", {}),
    ("seqcls", "DebertaForSequenceClassification", {"num_labels": 3}),
    ("seqcls-multilabel", "DebertaForSequenceClassification",
     {"num_labels": 3, "problem_type": "multi_label_classification"}),
    ("seqcls-regression", "DebertaForSequenceClassification", {"num_labels": 1}),
    ("tokcls", "DebertaForTokenClassification", {"num_labels": 3}),
    ("qa", "DebertaForQuestionAnswering", {"num_labels": 2}),
]
NO_DROPOUT = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


class Rows(torch.utils.data.Dataset):
    """A list of per-example dicts of tensors (what transformers' default collator stacks)."""

    def __init__(self, batch: dict) -> None:
        size = len(next(iter(batch.values())))
        self.rows = [{name: value[i] for name, value in batch.items()} for i in range(size)]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        return self.rows[index]


def _case(head: str, overrides: dict, seed: int = 0):
    torch.manual_seed(seed)
    config = make_config("rel_both", **overrides)
    model = getattr(deberta_torch, head)(config)
    inputs = make_inputs(config, lengths=ROWS)
    return model, {**inputs, **make_labels(head, config, inputs)}


def _args(output_dir, **overrides) -> TrainingArguments:
    settings = dict(output_dir=str(output_dir), per_device_train_batch_size=BATCH, per_device_eval_batch_size=BATCH,
                    max_steps=2, learning_rate=1e-2, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
                    disable_tqdm=True, dataloader_num_workers=0, seed=0)
    return TrainingArguments(**{**settings, **overrides})


# ------------------------------------------------------------------------------------------- transformers.Trainer
@pytest.mark.parametrize("case,head,overrides", CASES, ids=[c[0] for c in CASES])
def test_trainer_trains_evaluates_and_predicts_every_head(case, head, overrides, tmp_path):
    model, batch = _case(head, overrides)
    before = copy.deepcopy(model.state_dict())
    trainer = Trainer(model=model, args=_args(tmp_path, gradient_checkpointing=True), train_dataset=Rows(batch),
                      eval_dataset=Rows(batch))
    assert trainer.label_names == find_labels(type(model))  # what it reads off forward's signature
    result = trainer.train()

    assert result.global_step == 2 and torch.isfinite(torch.tensor(result.training_loss))
    assert model.is_gradient_checkpointing  # TrainingArguments(gradient_checkpointing=True) reached our method
    changed = [name for name, value in model.state_dict().items() if not torch.equal(value, before[name])]
    assert changed and any(name.startswith("deberta.encoder.") for name in changed), changed
    # total_flos is the model's own estimate summed over the two batches of 4 rows x 11 tokens.
    flops_per_batch = model.floating_point_ops({"input_ids": batch["input_ids"][:BATCH]})
    assert trainer.state.total_flos == 2 * flops_per_batch > 0

    # evaluate: the mean loss over the eval batches, as our model computes it in eval mode.
    metrics = trainer.evaluate()
    model.eval()
    labels = {k: v for k, v in batch.items() if k in trainer.label_names}
    inputs = {k: v for k, v in batch.items() if k not in labels}
    with torch.no_grad():
        losses = [model(**{k: v[i:i + BATCH] for k, v in batch.items()}).loss for i in range(0, len(ROWS), BATCH)]
        expected = model(**inputs)
    assert metrics["eval_loss"] == pytest.approx(float(torch.stack(losses).mean()), abs=ATOL_FP32)

    predictions = trainer.predict(Rows(batch)).predictions
    names = ["start_logits", "end_logits"] if head == "DebertaForQuestionAnswering" else ["logits"]
    predictions = predictions if isinstance(predictions, tuple) else (predictions,)
    assert len(predictions) == len(names)
    for name, predicted in zip(names, predictions):
        assert max_diff(torch.from_numpy(predicted), expected[name]) <= ATOL_FP32, name


def test_trainer_checkpoints_load_back_and_resume(tmp_path):
    """For a model that is not transformers' PreTrainedModel the Trainer writes only model.safetensors (our state
    dict, the reference's key names) in each checkpoint-N: it loads back with from_pretrained(..., config=...);
    with the callback from docs/torch.md each checkpoint also gets config.json through our save_pretrained and
    loads on its own. resume_from_checkpoint continues from the saved step."""

    class SavePretrained(TrainerCallback):  # the docs/torch.md recipe
        def on_save(self, args, state, control, model=None, **kwargs):
            if state.is_world_process_zero:
                model.save_pretrained(os.path.join(args.output_dir, f"checkpoint-{state.global_step}"))

    model, batch = _case("DebertaForSequenceClassification", {"num_labels": 3, **NO_DROPOUT})
    trainer = Trainer(model=model, args=_args(tmp_path, save_strategy="steps", save_steps=2),
                      train_dataset=Rows(batch), callbacks=[SavePretrained()])
    trainer.train()
    checkpoint = tmp_path / "checkpoint-2"
    assert {"model.safetensors", "config.json", "trainer_state.json", "optimizer.pt"} <= set(os.listdir(checkpoint))
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    model.eval()
    with torch.no_grad():
        expected = model(**inputs).logits
        for loaded in (deberta_torch.DebertaForSequenceClassification.from_pretrained(checkpoint),
                       deberta_torch.DebertaForSequenceClassification.from_pretrained(checkpoint, config=model.config)):
            assert max_diff(loaded(**inputs).logits, expected) == 0.0

    # Without the callback: weights only; from_pretrained names what is missing, config= completes it.
    plain = tmp_path / "plain"
    trainer.save_model(str(plain))
    assert "config.json" not in os.listdir(plain)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        deberta_torch.DebertaForSequenceClassification.from_pretrained(plain)
    with torch.no_grad():
        again = deberta_torch.DebertaForSequenceClassification.from_pretrained(plain, config=model.config)
        assert max_diff(again(**inputs).logits, expected) == 0.0

    resumed_model, _ = _case("DebertaForSequenceClassification", {"num_labels": 3, **NO_DROPOUT}, seed=1)
    resumed = Trainer(model=resumed_model, args=_args(tmp_path, max_steps=3), train_dataset=Rows(batch))
    assert resumed.train(resume_from_checkpoint=str(checkpoint)).global_step == 3


def test_save_pretrained_takes_a_gathered_state_dict_and_writes_only_on_the_main_process(tmp_path):
    model, batch = _case("DebertaForTokenClassification", {"num_labels": 3})
    state = {name: torch.zeros_like(value) for name, value in model.state_dict().items()}
    model.save_pretrained(tmp_path / "other_rank", state_dict=state, is_main_process=False)
    assert not (tmp_path / "other_rank").exists()
    model.save_pretrained(tmp_path / "main", state_dict=state)
    loaded = deberta_torch.DebertaForTokenClassification.from_pretrained(tmp_path / "main")
    assert all(torch.count_nonzero(v) == 0 for v in loaded.state_dict().values())
    with pytest.raises(ValueError, match=r"missing \['classifier.bias'\], unexpected \['classifier.b'\]"):
        state["classifier.b"] = state.pop("classifier.bias")
        model.save_pretrained(tmp_path / "bad", state_dict=state)
    assert not (tmp_path / "bad").exists()


# ----------------------------------------------------------------------------------- what the Trainer probes
@pytest.mark.parametrize("case,head,overrides", CASES, ids=[c[0] for c in CASES])
def test_parameter_and_flop_counts_match_the_reference(case, head, overrides):
    config = make_config("embproj", **overrides)  # token types, relative and position tables, a projection
    ours = getattr(deberta_torch, head)(config)
    reference = getattr(transformers, head)(transformers.DebertaConfig(**config.to_dict()))
    for kwargs in ({}, {"exclude_embeddings": True}, {"only_trainable": True, "exclude_embeddings": True}):
        assert ours.num_parameters(**kwargs) == reference.num_parameters(**kwargs), kwargs
    tables = sum(m.weight.numel() for m in ours.modules() if isinstance(m, torch.nn.Embedding))
    assert ours.num_parameters(exclude_embeddings=True) == ours.num_parameters() - tables
    inputs = make_inputs(config)
    assert ours.estimate_tokens(inputs) == inputs["input_ids"].numel() == reference.estimate_tokens(inputs)
    assert ours.floating_point_ops(inputs) == reference.floating_point_ops(inputs) > 0
    assert ours.floating_point_ops(inputs, exclude_embeddings=False) == reference.floating_point_ops(inputs, False)
    assert ours.estimate_tokens({"inputs_embeds": torch.zeros(2, 3, 16)}) == 0

    ours.base_model.embeddings.requires_grad_(False)
    reference.base_model.embeddings.requires_grad_(False)
    assert ours.num_parameters(only_trainable=True) == reference.num_parameters(only_trainable=True)
    assert ours.num_parameters(only_trainable=True) < ours.num_parameters()


def _gradients(model, batch) -> dict:
    model.zero_grad()
    model(**batch).loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("options", [
    {}, {"gradient_checkpointing_kwargs": {"use_reentrant": True}}, {"every_n_layers": 2}, {"offload": True},
], ids=["default", "reentrant", "every-2nd-layer", "offload"])
def test_gradient_checkpointing_options_give_the_same_gradients(options):
    model, batch = _case("DebertaForTokenClassification", {"num_labels": 3, **NO_DROPOUT, "num_hidden_layers": 3})
    model.train()
    plain = _gradients(model, batch)
    model.gradient_checkpointing_enable(**options)
    assert model.is_gradient_checkpointing
    checkpointed = _gradients(model, batch)
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        assert max_diff(plain[name], checkpointed[name]) <= ATOL_FP32, name
    model.gradient_checkpointing_disable()
    assert not model.is_gradient_checkpointing


def test_checkpointing_runs_only_the_chosen_layers_in_checkpoint(monkeypatch):
    import deberta_torch.encoder as encoder_module

    calls = []
    real = encoder_module.checkpoint
    monkeypatch.setattr(encoder_module, "checkpoint", lambda fn, *a, **kw: calls.append(kw) or real(fn, *a, **kw))
    model, batch = _case("DebertaForTokenClassification", {"num_labels": 3, "num_hidden_layers": 5})
    model.train()
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False, "preserve_rng_state": False},
                                          every_n_layers=2)
    model(**batch).loss.backward()
    # layers 0, 2, 4 of 5, with the torch.utils.checkpoint options as given (offload is ours, off by default)
    assert calls == [{"offload": False, "use_reentrant": False, "preserve_rng_state": False}] * 3
    model.eval()
    calls.clear()
    model(**batch)
    assert calls == []  # inference keeps no activations anyway
    with pytest.raises(ValueError, match="every_n_layers must be a positive integer, got 0"):
        model.gradient_checkpointing_enable(every_n_layers=0)


def test_transformers_5_trainer_calls_are_accepted():
    """The calls transformers 5's Trainer makes on a model (it cannot be installed beside the reference 4.57.6, so
    they are replayed here), read in transformers/trainer.py of the PyPI wheels transformers-5.0.0 and -5.24.0:

    - 5.0.0 L4727-4730 / 5.24.0 L4237-4240 (Trainer.floating_point_ops):
      ``6 * inputs[getattr(model, "main_input_name", "input_ids")].numel() * model.num_parameters(exclude_embeddings=True)``
      (4.57 called ``model.floating_point_ops(inputs)``; ours had no ``exclude_embeddings`` and 5.x failed here)
    - 5.0.0 L2310: ``model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=args.gradient_checkpointing_kwargs)``
    - 5.24.0 L1510-1528: ``model.activation_checkpointing_enable(activation_checkpointing_kwargs=..., every_n_layers=...,
      offload=...)`` when the model has it, else ``gradient_checkpointing_enable(gradient_checkpointing_kwargs=...,
      every_n_layers=..., offload=...)``
    - 5.0.0 L2957 / 5.24.0 L4071: ``model._keys_to_ignore_on_save`` read as an attribute after loading a checkpoint
    - 5.24.0 L645-646: ``model.config.use_cache = args.use_cache``
    - 5.0.0 L4111-4134 / 5.24.0 L4139-4168 (Trainer._save): a model that is not a PreTrainedModel is saved as
      ``state_dict()`` into model.safetensors, as 4.57 does (test_trainer_checkpoints_load_back_and_resume).
    """
    model, batch = _case("DebertaForSequenceClassification", {"num_labels": 3})
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    main_input = getattr(model, "main_input_name", "input_ids")
    assert 6 * inputs[main_input].numel() * model.num_parameters(exclude_embeddings=True) == model.floating_point_ops(inputs)
    for call in (lambda: model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=None),
                 lambda: model.activation_checkpointing_enable(activation_checkpointing_kwargs=None, every_n_layers=1,
                                                               offload=False),
                 lambda: model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True},
                                                             every_n_layers=2, offload=False)):
        call()
        assert model.is_gradient_checkpointing
        model.activation_checkpointing_disable()
        assert not model.is_gradient_checkpointing
    assert model._keys_to_ignore_on_save is None
    model.config.use_cache = False
    assert DebertaConfig.from_dict(model.config.to_dict()) == model.config
    for method in ("num_parameters", "floating_point_ops", "estimate_tokens", "gradient_checkpointing_enable",
                   "activation_checkpointing_enable", "save_pretrained"):
        assert inspect.signature(getattr(model, method)).parameters, method


# ----------------------------------------------------------------------------------------------- accelerate
def test_accelerator_prepare_backward_step_equals_a_plain_loop():
    accelerate = pytest.importorskip("accelerate")

    def run(use_accelerate: bool):
        model, batch = _case("DebertaForTokenClassification", {"num_labels": 3, **NO_DROPOUT})
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        loader = torch.utils.data.DataLoader(Rows(batch), batch_size=BATCH)
        accelerator = None
        if use_accelerate:
            accelerator = accelerate.Accelerator(cpu=True)
            model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
        model.train()
        losses = []
        for step_batch in loader:
            loss = model(**step_batch).loss
            accelerator.backward(loss) if accelerator else loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
        model = accelerator.unwrap_model(model) if accelerator else model
        return model, losses

    plain, plain_losses = run(False)
    accelerated, losses = run(True)
    assert losses == pytest.approx(plain_losses, abs=ATOL_FP32) and len(losses) == 2
    for name, value in plain.state_dict().items():
        assert max_diff(accelerated.state_dict()[name], value) <= ATOL_FP32, name


# ----------------------------------------------------------------------------------------------------- PEFT
def test_peft_lora_trains_saves_loads_and_merges(tmp_path):
    peft = pytest.importorskip("peft")
    overrides = {"num_labels": 3, **NO_DROPOUT}
    model, batch = _case("DebertaForSequenceClassification", overrides)
    base_state = copy.deepcopy(model.state_dict())
    lora = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["in_proj"], modules_to_save=["pooler", "classifier"])
    adapted = peft.get_peft_model(model, lora)
    trainable = {name for name, p in adapted.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name or "modules_to_save" in name for name in trainable), trainable
    assert sum("lora_A" in name for name in trainable) == model.config.num_hidden_layers

    trainer = Trainer(model=adapted, args=_args(tmp_path / "run"), train_dataset=Rows(batch))
    trainer.train()
    # Every weight outside the adapters is untouched; the adapters (B starts at zero) and the head copies moved.
    base_names = {n: n.replace("base_model.model.", "").replace(".base_layer", "").replace(".original_module", "")
                  for n, _ in adapted.named_parameters() if "lora_" not in n and "modules_to_save" not in n}
    assert sorted(base_names.values()) == sorted(base_state)
    params = dict(adapted.named_parameters())
    assert all(torch.equal(params[n], base_state[key]) for n, key in base_names.items())
    assert all(torch.count_nonzero(p) for n, p in params.items() if "lora_B" in n)
    assert not torch.equal(params["base_model.model.classifier.modules_to_save.default.weight"],
                           base_state["classifier.weight"])

    inputs = {k: v for k, v in batch.items() if k != "labels"}
    adapted.eval()
    with torch.no_grad():
        expected = adapted(**inputs).logits
    adapted.save_pretrained(tmp_path / "adapter")
    assert {"adapter_config.json", "adapter_model.safetensors"} <= set(os.listdir(tmp_path / "adapter"))

    fresh = deberta_torch.DebertaForSequenceClassification(model.config)
    fresh.load_state_dict(base_state)
    loaded = peft.PeftModel.from_pretrained(fresh, tmp_path / "adapter").eval()
    with torch.no_grad():
        assert max_diff(loaded(**inputs).logits, expected) == 0.0
        merged = loaded.merge_and_unload()
        assert type(merged) is deberta_torch.DebertaForSequenceClassification
        assert set(merged.state_dict()) == set(base_state)  # a plain model again: no adapter keys
        assert max_diff(merged(**inputs).logits, expected) <= ATOL_FP32

    merged.save_pretrained(tmp_path / "merged")
    again = deberta_torch.DebertaForSequenceClassification.from_pretrained(tmp_path / "merged")
    with torch.no_grad():
        assert max_diff(again(**inputs).logits, expected) <= ATOL_FP32


def test_peft_lora_gets_gradients_through_reentrant_checkpointing():
    """Frozen embeddings + reentrant checkpointing drop every checkpointed layer's gradient unless the embedding
    output requires grad; gradient_checkpointing_enable(use_reentrant=True) sees to it, disable undoes it."""
    peft = pytest.importorskip("peft")
    model, batch = _case("DebertaForTokenClassification", {"num_labels": 3, **NO_DROPOUT})
    adapted = peft.get_peft_model(model, peft.LoraConfig(r=2, target_modules=["in_proj"], init_lora_weights=False))
    adapted.train()
    plain = _gradients(adapted, batch)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
    checkpointed = _gradients(adapted, batch)
    lora = [name for name in plain if "lora_" in name]
    assert len(lora) == 2 * model.config.num_hidden_layers and set(checkpointed) == set(plain)
    for name in plain:
        assert max_diff(plain[name], checkpointed[name]) <= ATOL_FP32, name
    model.gradient_checkpointing_disable()
    assert model._input_require_grads_hook is None
    model.enable_input_require_grads()  # one the user asked for stays
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
    model.gradient_checkpointing_disable()
    assert model._input_require_grads_hook is not None
