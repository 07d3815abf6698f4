"""train_tokcls.py and train_qa.py in both frameworks, a few steps on the tiny preset: one RESULT line that equals
metrics.json; a checkpoint trained in torch, converted with deberta-convert, gives the same predictions and
metrics in the Keras script (--eval-only); DDP evaluation (torchrun, 2 ranks) equals one process."""

import json
import pathlib
import sys

import pytest

from e2e_scripts import refusal, run, run_module
from examples import common

SCRIPTS = {"tokcls": "examples.train_tokcls", "qa": "examples.train_qa"}
COMMON = ["--model", "deberta-tiny", "--max-train-samples", "16", "--batch-size", "8", "--max-steps", "2", "--quiet"]
DATA = {
    "tokcls": ["--max-eval-samples", "24", "--max-length", "48"],
    # 64 tokens with stride 24: each of the 12 contexts is cut into 4 to 7 windows.
    "qa": ["--max-eval-samples", "12", "--max-length", "64", "--stride", "24"],
}
METRICS = {"tokcls": ("eval_accuracy", "eval_macro_f1"), "qa": ("eval_exact_match", "eval_f1")}
BASELINES = {"tokcls": ("majority_baseline_accuracy", "majority_baseline_macro_f1"),
             "qa": ("overlap_baseline_exact_match", "overlap_baseline_f1")}
TASK_NAMES = {"tokcls": "token-classification", "qa": "question-answering"}
# Converted weights give logits equal within 1e-5 (the parity tests); a prediction (a word's tag, a question's
# answer) can flip only where two logits (QA: two span scores) tie within that, which these small eval sets
# practically never hold. Expected: no prediction differs and the metrics are equal; allowed: one flip.
MAX_DIFFERING_PREDICTIONS = 1


def _script(task, framework, *args):
    done = run_module(SCRIPTS[task], "--framework", framework, *DATA[task], *args)
    return common.parse_result(done.stdout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(task, framework) -> (RESULT, output folder): trained once, shared by the tests below."""
    cache = {}

    def get(task, framework):
        if (task, framework) not in cache:
            out = tmp_path_factory.mktemp(f"{task}-{framework}")
            cache[task, framework] = (_script(task, framework, *COMMON, "--output-dir", str(out)), out)
        return cache[task, framework]

    return get


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("task", ["tokcls", "qa"])
def test_script_trains_and_prints_one_result_line(trained, task, framework):
    result, out = trained(task, framework)
    assert result["task"] == TASK_NAMES[task] and result["framework"] == framework
    assert result["steps"] == 2
    scale = 100.0 if task == "qa" else 1.0  # SQuAD scores are percentages
    for key in METRICS[task] + BASELINES[task]:
        assert 0.0 <= result[key] <= scale, (key, result[key])
    assert result["eval_examples"] == int(DATA[task][1])
    saved = json.loads((out / "metrics.json").read_text())
    assert {k: v for k, v in saved.items() if k != "history"} == result
    assert len(saved["history"]) == 1 and saved["history"][0]["step"] == 2
    assert all(saved["history"][0][key] == result[key] for key in METRICS[task])
    predictions = json.loads((out / "predictions.json").read_text())
    assert len(predictions) == result["eval_examples"]
    weights = "model.safetensors" if framework == "torch" else "tf_model.h5"
    assert (out / weights).exists() and (out / "config.json").exists() and (out / "vocab.json").exists()


def _differing_predictions(a, b):
    """How many predictions differ: answers (QA: {id: answer}) or word tags (tokcls: a list per sentence)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        return sum(a[key] != b[key] for key in a)
    assert [len(row) for row in a] == [len(row) for row in b]
    return sum(x != y for row_a, row_b in zip(a, b) for x, y in zip(row_a, row_b))


@pytest.mark.parametrize("task", ["tokcls", "qa"])
def test_torch_checkpoint_converted_to_keras_evaluates_the_same(trained, task, tmp_path):
    torch_result, torch_out = trained(task, "torch")
    keras_folder = tmp_path / "keras"
    run_module("conversion", str(torch_out), str(keras_folder), "--to", "tf")
    assert (keras_folder / "tf_model.h5").exists() and (keras_folder / "vocab.json").exists()
    keras_result = _script(task, "keras", "--model", str(keras_folder), "--eval-only", "--output-dir",
                           str(tmp_path / "eval"))
    assert keras_result["steps"] == 0 and keras_result["eval_examples"] == torch_result["eval_examples"]
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["history"] == []
    differing = _differing_predictions(json.loads((torch_out / "predictions.json").read_text()),
                                       json.loads((tmp_path / "eval" / "predictions.json").read_text()))
    assert differing <= MAX_DIFFERING_PREDICTIONS
    if differing == 0:
        assert all(keras_result[key] == torch_result[key] for key in METRICS[task]), (keras_result, torch_result)


def test_ddp_evaluation_gathers_the_same_metrics_as_one_process(trained, tmp_path):
    torch_result, torch_out = trained("tokcls", "torch")
    torchrun = pathlib.Path(sys.executable).with_name("torchrun")
    done = run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", SCRIPTS["tokcls"], "--framework", "torch",
                 *DATA["tokcls"], "--model", str(torch_out), "--eval-only", "--output-dir", str(tmp_path)])
    result = common.parse_result(done.stdout)  # rank 0 alone prints it
    assert result["world_size"] == 2
    for key in METRICS["tokcls"]:
        assert result[key] == pytest.approx(torch_result[key], abs=1e-12)


def test_eval_only_needs_a_checkpoint_folder():
    assert "--eval-only evaluates a checkpoint folder" in refusal(SCRIPTS["qa"], "--framework", "torch", "--eval-only")
    assert "--max-steps must be >= 1, got 0 (to evaluate without training" in refusal(
        SCRIPTS["tokcls"], "--framework", "keras", "--max-steps", "0")
