"""The deberta-convert CLI in subprocesses: exit codes (0 ok, 1 parity failed, 2 bad input), one readable message
naming the file, no traceback, no partial output. Kept few and tiny: each TensorFlow import costs seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import PT_BIN, PT_V5, TF_457
from conversion_helpers import assert_same_arrays, copy_fixture, leftovers, tree
from deberta_core.checkpoint_io import read_safetensors, read_tf_h5, write_safetensors

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}


def cli(*args, module=False, timeout=300):
    command = [sys.executable, "-m", "conversion"] if module else [sys.executable, "-c",
                                                                   "import sys; from conversion.cli import main; sys.exit(main())"]
    proc = subprocess.run(command + [str(a) for a in args], capture_output=True, text=True, env=ENV, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def assert_bad_input(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    message = proc.stderr.strip().splitlines()
    assert message and message[0].startswith("deberta-convert: error: "), proc.stderr
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)


def test_help_documents_every_option_with_examples():
    proc = cli("--help", module=True)
    assert proc.returncode == 0
    for option in ("--to", "--from", "--task", "--check", "--no-check", "--atol", "--gradients", "--force", "examples:",
                   "check A B", "dump-map", "inspect"):
        assert option in proc.stdout, option
    for command in ("check", "dump-map", "inspect"):
        sub = cli(command, "--help")
        assert sub.returncode == 0 and "example" in sub.stdout


def test_help_and_dump_map_import_no_framework():
    code = ("import sys; from conversion.cli import main; main(['dump-map', '--task', 'mlm']); "
            "print('HEAVY', [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0 and "HEAVY []" in proc.stdout
    assert "cls.predictions.transform.dense.weight" in proc.stdout and "transpose" in proc.stdout


def test_convert_with_check_succeeds(tmp_path):
    out = tmp_path / "pt"
    proc = cli(TF_457 / "p3_abs_bertlike__tokcls", out, "--to", "torch", "--gradients")
    assert proc.returncode == 0, proc.stderr
    assert "parity PASSED" in proc.stdout and "wrote: config.json, model.safetensors" in proc.stdout
    assert_same_arrays(read_safetensors(out / "model.safetensors"),
                       read_safetensors(PT_V5 / "p3_abs_bertlike__tokcls" / "model.safetensors"))
    # and on to the Keras 3 native format, checked against its source
    proc = cli(out, tmp_path / "keras", "--to", "keras", module=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "keras" / "model.keras").is_file() and "parity PASSED" in proc.stdout
    inspect = cli("inspect", tmp_path / "keras" / "model.keras", "--json")
    info = json.loads(inspect.stdout)
    assert info["format"] == "keras" and info["architecture"] == "DebertaForTokenClassification"


def test_check_of_a_perturbed_checkpoint_fails_and_names_the_output(tmp_path):
    src = PT_V5 / "p1_rel_c2p_p2c__seqcls"
    bad = copy_fixture(src, tmp_path / "bad", keep=("config.json",))
    weights = read_safetensors(src / "model.safetensors")
    weights["classifier.bias"] = weights["classifier.bias"] + np.float32(0.01)
    write_safetensors(weights, bad / "model.safetensors")
    proc = cli("check", src, bad)
    assert proc.returncode == 1, proc.stderr
    assert "parity FAILED" in proc.stdout and "FAIL logits" in proc.stdout
    assert "hidden_states" not in proc.stdout.split("over tolerance:")[1]
    ok = cli("check", src, PT_BIN / "p1_rel_c2p_p2c__seqcls", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["passed"] is True


def test_truncated_safetensors(tmp_path):
    folder = copy_fixture(PT_V5 / "p1_rel_c2p_p2c__model", tmp_path / "ckpt")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[:-64])
    proc = cli(folder, tmp_path / "out", "--to", "tf")
    assert_bad_input(proc, str(folder / "model.safetensors"), "truncated")
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


def test_corrupt_h5(tmp_path):
    folder = copy_fixture(TF_457 / "p1_rel_c2p_p2c__model", tmp_path / "ckpt")
    data = (folder / "tf_model.h5").read_bytes()
    (folder / "tf_model.h5").write_bytes(data[: len(data) // 3])
    proc = cli(folder, tmp_path / "out", "--to", "torch")
    assert_bad_input(proc, str(folder / "tf_model.h5"))
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


def test_config_that_does_not_match_the_weights(tmp_path):
    folder = copy_fixture(PT_V5 / "p2_rel_p2c_clamp16__qa", tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    config["hidden_size"], config["num_attention_heads"] = 48, 4
    (folder / "config.json").write_text(json.dumps(config))
    proc = cli(folder, tmp_path / "out", "--to", "tf")
    assert_bad_input(proc, "with the wrong shape", "expected (", "model.safetensors", "config.json")
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


def test_existing_output_without_force(tmp_path):
    out = tmp_path / "out"
    first = cli(PT_V5 / "p1_rel_c2p_p2c__tokcls", out, "--to", "tf", "--no-check")
    assert first.returncode == 0 and "parity not checked" in first.stdout
    before = tree(out)
    again = cli(PT_V5 / "p1_rel_c2p_p2c__tokcls", out, "--to", "tf", "--no-check")
    assert_bad_input(again, "tf_model.h5", "--force")
    assert tree(out) == before and not leftovers(tmp_path)
    forced = cli(PT_V5 / "p1_rel_c2p_p2c__tokcls", out, "--to", "tf", "--no-check", "--force")
    assert forced.returncode == 0
    assert_same_arrays(read_tf_h5(out / "tf_model.h5"), read_tf_h5(TF_457 / "p1_rel_c2p_p2c__tokcls" / "tf_model.h5"))


def test_pickle_that_is_not_a_state_dict(tmp_path):
    folder = copy_fixture(PT_BIN / "p1_rel_c2p_p2c__seqcls", tmp_path / "ckpt", keep=("config.json",))
    code = ("import collections, torch, sys; "
            "torch.save({'optimizer': collections.Counter(a=1), 'model': torch.nn.Linear(2, 2)}, sys.argv[1])")
    subprocess.run([sys.executable, "-c", code, str(folder / "pytorch_model.bin")], check=True, env=ENV)
    proc = cli(folder, tmp_path / "out", "--to", "tf")
    assert_bad_input(proc, str(folder / "pytorch_model.bin"), "weights_only=True")
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


def test_missing_task_and_unknown_target(tmp_path):
    folder = copy_fixture(PT_V5 / "p1_rel_c2p_p2c__qa", tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    del config["architectures"]
    (folder / "config.json").write_text(json.dumps(config))
    assert_bad_input(cli(folder, tmp_path / "out", "--to", "tf"), "config.json", "--task")
    assert_bad_input(cli(folder, tmp_path / "out", "--to", "onnx"), "onnx")
    proc = cli("inspect", folder)
    assert proc.returncode == 0 and "unknown" in proc.stdout and "parameters:" in proc.stdout
