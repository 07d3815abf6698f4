"""The text-classification script with --framework keras at tiny sizes: one device, MirroredStrategy over 2
logical CPU devices, resume; and what it saves loads in the torch twin with the same predictions."""

import json

import numpy as np

from e2e_scripts import refusal, run_module

SMALL = ["--model", "deberta-tiny", "--max-train-samples", "64", "--max-eval-samples", "32", "--max-length", "32",
         "--batch-size", "16", "--quiet", "--learning-rate", "3e-3"]


def _run(args):
    # All intra-op threads: --replicas 2 splits the CPU into two logical devices.
    return run_module("examples.train_seqcls", "--framework", "keras", *args, threads=None)


def test_fit_then_resume_then_load_in_torch(tmp_path):
    _run([*SMALL, "--epochs", "2", "--output-dir", str(tmp_path)])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["steps"] == 8 and len(metrics["history"]) == 2
    losses = [h["train_loss"] for h in metrics["history"]]
    assert all(np.isfinite(losses)) and losses[1] < losses[0], losses
    assert (tmp_path / "tf_model.h5").exists() and (tmp_path / "checkpoint" / "model.keras").exists()

    _run([*SMALL, "--epochs", "3", "--resume", "--output-dir", str(tmp_path)])
    resumed = json.loads((tmp_path / "metrics.json").read_text())
    assert resumed["steps"] == 12 and [h["epoch"] for h in resumed["history"]] == [3]

    # The saved folder is a reference-layout checkpoint: the torch twin reads it with from_tf=True.
    import torch

    import deberta_torch
    from deberta_core import DebertaTokenizer

    model = deberta_torch.DebertaForSequenceClassification.from_pretrained(tmp_path, from_tf=True)
    tokenizer = DebertaTokenizer.from_pretrained(tmp_path)
    assert model.config.id2label[0] == "art"
    batch = tokenizer(["Computers are fast.", "Art is long."], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert torch.isfinite(model(**batch).logits).all()


def test_mirrored_strategy_over_two_logical_cpus_trains(tmp_path):
    _run([*SMALL, "--epochs", "2", "--replicas", "2", "--output-dir", str(tmp_path)])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["replicas"] == 2
    losses = [h["train_loss"] for h in metrics["history"]]
    assert all(np.isfinite(losses)) and losses[1] < losses[0], losses


def test_bad_flags_are_refused(tmp_path):
    assert "--epochs must be >= 1, got 0" in refusal("examples.train_seqcls", "--framework", "keras", "--epochs", "0")
    assert "the following arguments are required: --framework" in refusal("examples.train_seqcls", "--epochs", "1")
