"""examples/pretrain_mlm.py at tiny sizes, in both frameworks with the Enhanced Mask Decoder: it trains, reports the
held-out masked-token metrics, and what it saves loads with the decoder on (in the other framework too)."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TINY_RUN = ["--enhanced-mask-decoder", "--max-length", "16", "--batch-size", "4", "--max-eval-sequences", "4",
            "--steps", "2", "--eval-every", "1"]


def _run(args):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-m", "examples.pretrain_mlm", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_pretrain_with_the_decoder_then_load_in_the_other_framework(framework, tmp_path):
    done = _run(["--framework", framework, *TINY_RUN, "--output-dir", str(tmp_path)])
    assert "with the enhanced mask decoder" in done.stdout
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["enhanced_mask_decoder"] and metrics["steps"] == 2
    assert [h["step"] for h in metrics["history"]] == [0, 1, 2]
    for entry in metrics["history"]:
        assert entry["targets"] > 0 and 0.0 <= entry["accuracy"] <= 1.0
        assert np.isclose(entry["perplexity"], np.exp(entry["loss"]))
    assert json.loads((tmp_path / "config.json").read_text())["enhanced_mask_decoder"] is True
    other = "keras" if framework == "torch" else "torch"
    if other == "torch":
        import torch

        from deberta_torch import DebertaForMaskedLM

        model = DebertaForMaskedLM.from_pretrained(tmp_path, from_tf=True)
        with torch.no_grad():
            logits = model(torch.tensor([[1, 50, 60, 2]])).logits.numpy()
    else:
        from deberta_tf import TFDebertaForMaskedLM

        model = TFDebertaForMaskedLM.from_pretrained(tmp_path, from_pt=True)
        logits = np.asarray(model(np.array([[1, 50, 60, 2]], np.int32)).logits)
    assert model.config.enhanced_mask_decoder and logits.shape == (1, 4, model.config.vocab_size)
    assert np.isfinite(logits).all()


def test_bad_flags_are_refused(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "examples.pretrain_mlm", "--framework", "torch", "--steps", "0"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "--steps must be >= 1, got 0" in done.stderr
