"""examples/pretrain_mlm.py (the masked-LM task on the shared runners) at tiny sizes: with the Enhanced Mask Decoder
in both frameworks it trains, reports held-out masked-token metrics against the unigram baseline, and what it saves
loads with the decoder on in the other framework; a short run drives the held-out loss clearly below its start;
the metrics are computed right (hand-checked)."""

import json
import math

import numpy as np
import pytest

from e2e_scripts import refusal, run_module
from examples import common
from examples.tasks import mlm

TINY_RUN = ["--model", "deberta-tiny", "--max-length", "24", "--batch-size", "8", "--max-train-samples", "24",
            "--max-eval-samples", "12", "--quiet"]
VOCAB = 50265  # the deberta-base tokenizer's, which the presets use
# An untrained model scores the held-out masked tokens at about ln(VOCAB) = 10.8 nats (near-uniform logits). The
# learning test must end at least this far below that: the unigram distribution alone is worth ~2.6 nats here,
# so a model that learned nothing cannot pass, and the run takes about a minute on 2 cores.
LOSS_DROP_NATS = 2.0


def _script(*args):
    return common.parse_result(run_module("examples.pretrain_mlm", *args).stdout)


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_pretrain_with_the_decoder_then_load_in_the_other_framework(framework, tmp_path):
    result = _script("--framework", framework, "--enhanced-mask-decoder", *TINY_RUN, "--max-steps", "2",
                     "--output-dir", str(tmp_path))
    assert result["task"] == "masked-lm" and result["framework"] == framework and result["steps"] == 2
    assert 0.0 <= result["eval_masked_accuracy"] <= 1.0
    assert math.isclose(result["eval_perplexity"], math.exp(result["eval_mlm_loss"]), rel_tol=1e-9)
    assert result["unigram_mlm_loss"] < math.log(VOCAB)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert {k: v for k, v in saved.items() if k != "history"} == result
    assert json.loads((tmp_path / "config.json").read_text())["enhanced_mask_decoder"] is True
    ids = np.array([[1, 50, 60, 2]])
    if framework == "keras":
        import torch

        from deberta_torch import DebertaForMaskedLM

        model = DebertaForMaskedLM.from_pretrained(tmp_path, from_tf=True)
        with torch.no_grad():
            logits = model(torch.from_numpy(ids)).logits.numpy()
    else:
        from deberta_tf import TFDebertaForMaskedLM

        model = TFDebertaForMaskedLM.from_pretrained(tmp_path, from_pt=True)
        logits = np.asarray(model(ids.astype(np.int32)).logits)
    assert model.config.enhanced_mask_decoder and logits.shape == (1, 4, VOCAB)
    assert np.isfinite(logits).all()


def test_a_short_run_drives_the_held_out_loss_clearly_down(tmp_path):
    result = _script("--framework", "torch", "--enhanced-mask-decoder", "--model", "deberta-tiny", "--max-length",
                     "32", "--batch-size", "16", "--max-train-samples", "400", "--max-eval-samples", "40",
                     "--epochs", "3", "--max-steps", "60", "--learning-rate", "5e-3", "--quiet",
                     "--output-dir", str(tmp_path))
    assert result["eval_mlm_loss"] < math.log(VOCAB) - LOSS_DROP_NATS, result


def test_metrics_are_the_masked_tokens_negative_log_likelihood_and_accuracy():
    task = mlm.MaskedLanguageModeling([], [], pad_id=0, masker=None)
    logits = np.log(np.array([[[0.5, 0.25, 0.25], [0.1, 0.2, 0.7], [1 / 3, 1 / 3, 1 / 3]]]))
    batch = {"labels": np.array([[0, -100, 1]])}  # position 0: p=0.5, right; position 2: p=1/3, a tie (argmax 0)
    records = task.predictions(batch, {"logits": logits})
    assert records[0][1:] == (2, 1)
    assert math.isclose(records[0][0], -math.log(0.5) - math.log(1 / 3), rel_tol=1e-12)
    metrics = task.evaluate(records + [(0.0, 0, 0)])
    assert math.isclose(metrics["mlm_loss"], (-math.log(0.5) - math.log(1 / 3)) / 2, rel_tol=1e-12)
    assert metrics["masked_accuracy"] == 0.5
    assert math.isclose(metrics["perplexity"], math.exp(metrics["mlm_loss"]))


def test_training_batches_are_masked_per_batch_and_held_out_masks_are_fixed():
    from deberta_core import DebertaTokenizer
    from deberta_core.mlm import MLMMasker

    tokenizer = DebertaTokenizer()
    masker = MLMMasker.from_tokenizer(tokenizer, seed=0, mlm_probability=0.5)
    ids = tokenizer(["a long enough sentence to mask some of its tokens"])["input_ids"][0]
    held_out = {"input_ids": ids, "labels": [-100] * len(ids), "index": 0}
    task = mlm.MaskedLanguageModeling([{"input_ids": ids, "index": 0}], [held_out], tokenizer.pad_token_id, masker)
    first, second = task.collate(task.train), task.collate(task.train)
    assert (first["labels"] != -100).any() and not np.array_equal(first["labels"], second["labels"])
    assert (task.collate(task.eval)["labels"] == -100).all()  # held-out rows keep the labels they came with


def test_bad_flags_are_refused():
    stderr = refusal("examples.pretrain_mlm", "--framework", "torch", "--mlm-probability", "1.5")
    assert "--mlm-probability must be in (0, 1), got 1.5" in stderr


def test_make_pretrain_pipeline_at_tiny_size(tmp_path):
    # `make pretrain`: pretrain, then fine-tune from that checkpoint and from scratch, and compare.
    done = run_module("examples.pretrain_compare", "--model", "deberta-tiny", "--pretrain-steps", "2",
                      "--finetune-steps", "2", "--max-length", "24", "--output-dir", str(tmp_path))
    comparison = json.loads((tmp_path / "comparison.json").read_text())
    assert comparison["pretrain"]["steps"] == 2 and comparison["finetune_steps"] == 2
    for name in ("from-pretrained", "from-scratch"):
        assert 0.0 <= comparison[name]["accuracy"] <= 1.0
        assert (tmp_path / name / "metrics.json").exists()
    assert json.loads((tmp_path / "from-pretrained" / "config.json").read_text())["enhanced_mask_decoder"] is True
    assert "from pretrained" in done.stdout and "from scratch" in done.stdout
