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
from conversion_helpers import CLIExit, CLIWorker, assert_same_arrays, copy_fixture, leftovers, raise_for_exit, tree
from deberta_core.checkpoint_io import read_safetensors, read_tf_h5, write_safetensors

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}


_WORKER = []


@pytest.fixture(scope="module", autouse=True)
def cli_worker():
    """The module's one interpreter for ``cli(...)`` runs (conversion_helpers.CLIWorker)."""
    _WORKER.append(CLIWorker(ENV))
    yield _WORKER[0]
    _WORKER.pop().close()


def cli(*args, module=False, timeout=300):
    """deberta-convert ARGS: ``python -m conversion ARGS`` in a process of its own when ``module``, else
    ``conversion.cli.main(ARGS)`` in the module's worker process (what the console script runs)."""
    if module:
        proc = subprocess.run([sys.executable, "-m", "conversion"] + [str(a) for a in args], capture_output=True,
                              text=True, env=ENV, timeout=timeout)
    else:
        proc = _WORKER[0].run([str(a) for a in args])
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


@pytest.mark.bad_input("deberta-convert of a truncated model.safetensors", CLIExit,
                       "is not a readable safetensors file (truncated or corrupt?)")
def test_truncated_safetensors(tmp_path, expect_bad_input):
    folder = copy_fixture(PT_V5 / "p1_rel_c2p_p2c__model", tmp_path / "ckpt")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[:-64])
    proc = cli(folder, tmp_path / "out", "--to", "tf")
    with expect_bad_input():
        raise_for_exit(proc)
    assert_bad_input(proc, str(folder / "model.safetensors"), "truncated")
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


@pytest.mark.bad_input("deberta-convert of a tf_model.h5 cut to a third", CLIExit,
                       "is not a readable HDF5 file (truncated or corrupt?)")
def test_corrupt_h5(tmp_path, expect_bad_input):
    folder = copy_fixture(TF_457 / "p1_rel_c2p_p2c__model", tmp_path / "ckpt")
    data = (folder / "tf_model.h5").read_bytes()
    (folder / "tf_model.h5").write_bytes(data[: len(data) // 3])
    proc = cli(folder, tmp_path / "out", "--to", "torch")
    with expect_bad_input():
        raise_for_exit(proc)
    assert_bad_input(proc, str(folder / "tf_model.h5"))
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


@pytest.mark.bad_input("deberta-convert of a folder whose config.json does not fit its weights", CLIExit,
                       "with the wrong shape")
def test_config_that_does_not_match_the_weights(tmp_path, expect_bad_input):
    folder = copy_fixture(PT_V5 / "p2_rel_p2c_clamp16__qa", tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    config["hidden_size"], config["num_attention_heads"] = 48, 4
    (folder / "config.json").write_text(json.dumps(config))
    proc = cli(folder, tmp_path / "out", "--to", "tf")
    with expect_bad_input():
        raise_for_exit(proc)
    assert_bad_input(proc, "with the wrong shape", "expected (", "model.safetensors", "config.json")
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


@pytest.mark.bad_input("deberta-convert into a folder that already holds the output, without --force", CLIExit,
                       "pass --force (force=True) to replace them")
def test_existing_output_without_force(tmp_path, expect_bad_input):
    out = tmp_path / "out"
    first = cli(PT_V5 / "p1_rel_c2p_p2c__tokcls", out, "--to", "tf", "--no-check")
    assert first.returncode == 0 and "parity not checked" in first.stdout
    before = tree(out)
    again = cli(PT_V5 / "p1_rel_c2p_p2c__tokcls", out, "--to", "tf", "--no-check")
    with expect_bad_input():
        raise_for_exit(again)
    assert_bad_input(again, "tf_model.h5", "--force")
    assert tree(out) == before and not leftovers(tmp_path)
    forced = cli(PT_V5 / "p1_rel_c2p_p2c__tokcls", out, "--to", "tf", "--no-check", "--force")
    assert forced.returncode == 0
    assert_same_arrays(read_tf_h5(out / "tf_model.h5"), read_tf_h5(TF_457 / "p1_rel_c2p_p2c__tokcls" / "tf_model.h5"))


@pytest.mark.bad_input("deberta-convert of a pytorch_model.bin that pickles objects, not a state dict", CLIExit,
                       "weights_only=True")
def test_pickle_that_is_not_a_state_dict(tmp_path, expect_bad_input):
    folder = copy_fixture(PT_BIN / "p1_rel_c2p_p2c__seqcls", tmp_path / "ckpt", keep=("config.json",))
    code = ("import collections, torch, sys; "
            "torch.save({'optimizer': collections.Counter(a=1), 'model': torch.nn.Linear(2, 2)}, sys.argv[1])")
    subprocess.run([sys.executable, "-c", code, str(folder / "pytorch_model.bin")], check=True, env=ENV)
    proc = cli(folder, tmp_path / "out", "--to", "tf")
    with expect_bad_input():
        raise_for_exit(proc)
    assert_bad_input(proc, str(folder / "pytorch_model.bin"), "weights_only=True")
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


@pytest.mark.bad_input("deberta-convert of a config.json without 'architectures' and no --task", CLIExit,
                       "has no 'architectures' entry, so the model head is unknown; pass --task")
def test_missing_task_and_unknown_target(tmp_path, expect_bad_input):
    folder = copy_fixture(PT_V5 / "p1_rel_c2p_p2c__qa", tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    del config["architectures"]
    (folder / "config.json").write_text(json.dumps(config))
    proc = cli(folder, tmp_path / "out", "--to", "tf")
    with expect_bad_input():
        raise_for_exit(proc)
    assert_bad_input(proc, "config.json", "--task")
    assert_bad_input(cli(folder, tmp_path / "out", "--to", "onnx"), "onnx")
    proc = cli("inspect", folder)
    assert proc.returncode == 0 and "unknown" in proc.stdout and "parameters:" in proc.stdout


BAD_FLAGS = [  # (arguments after SRC DST, what the message must say)
    (("--to", "tf", "--atol", "-1"), "argument --atol: expected a finite number >= 0, got '-1'"),
    (("--to", "tf", "--atol", "nan"), "argument --atol: expected a finite number >= 0, got 'nan'"),
    (("--to", "tf", "--grad-atol", "inf"), "argument --grad-atol: expected a finite number >= 0, got 'inf'"),
    (("--to", "tf", "--seq-len", "0"), "argument --seq-len: expected a positive integer, got 0"),
    (("--to", "tf", "--seq-len", "1000"), "seq_len must be an integer from 2 to the config's max_position_embeddings"),
    (("--to", "onnx"), "unknown target format 'onnx'"),
]


@pytest.mark.parametrize("flags", [
    pytest.param(flags, id=" ".join(flags[2:] or flags), marks=pytest.mark.bad_input(
        f"deberta-convert SRC DST {' '.join(flags)}", CLIExit, f"exit 2: deberta-convert: error: {fragment}"))
    for flags, fragment in BAD_FLAGS
])
def test_bad_flags_exit_2_with_one_line_naming_the_flag(tmp_path, flags, expect_bad_input):
    proc = cli(PT_V5 / "p1_rel_c2p_p2c__model", tmp_path / "out", *flags)
    with expect_bad_input():
        raise_for_exit(proc)
    assert proc.returncode == 2 and "parity" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("deberta-convert: error: "), proc.stderr
    assert sum(line.startswith("deberta-convert: ") for line in lines) == 1, proc.stderr  # one line of ours
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


@pytest.mark.bad_input("deberta-convert of a shard index naming '../outside.safetensors'", CLIExit,
                       "shards must lie next to the index")
def test_shard_outside_the_checkpoint_folder(tmp_path, expect_bad_input):
    source = PT_V5 / "p1_rel_c2p_p2c__model"
    weights = read_safetensors(source / "model.safetensors")
    names = sorted(weights)
    folder = copy_fixture(source, tmp_path / "ckpt", keep=("config.json",))
    write_safetensors({k: weights[k] for k in names[:3]}, folder / "model-00001-of-00002.safetensors")
    write_safetensors({k: weights[k] for k in names[3:]}, tmp_path / "outside.safetensors")
    weight_map = {**{k: "model-00001-of-00002.safetensors" for k in names[:3]},
                  **{k: "../outside.safetensors" for k in names[3:]}}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    proc = cli(folder, tmp_path / "out", "--to", "tf", "--no-check")
    with expect_bad_input():
        raise_for_exit(proc)
    assert str(folder / "model.safetensors.index.json") in proc.stderr
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


@pytest.mark.bad_input("deberta-convert of a shard index that is not JSON", CLIExit, "is not a valid shard index")
def test_malformed_index(tmp_path, expect_bad_input):
    folder = copy_fixture(PT_V5 / "p1_rel_c2p_p2c__model", tmp_path / "ckpt", keep=("config.json",))
    (folder / "model.safetensors.index.json").write_text("{not json")
    proc = cli(folder, tmp_path / "out", "--to", "tf")
    with expect_bad_input():
        raise_for_exit(proc)
    assert proc.returncode == 2 and str(folder / "model.safetensors.index.json") in proc.stderr


def test_verbose_shows_the_traceback_and_internal_errors_exit_3(tmp_path):
    folder = copy_fixture(PT_V5 / "p1_rel_c2p_p2c__model", tmp_path / "ckpt", keep=("config.json",))
    (folder / "model.safetensors.index.json").write_text("{not json")
    command = [sys.executable, "-m", "conversion", str(folder), str(tmp_path / "out"), "--to", "tf", "--verbose"]
    proc = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=300)
    assert proc.returncode == 2 and "Traceback" in proc.stderr and "is not a valid shard index" in proc.stderr
    code = ("import sys, conversion.cli as cli\n"
            "def broken(args):\n    raise KeyError('oops')\n"
            "cli.HANDLERS['inspect'] = broken\n"
            "sys.exit(cli.main(['inspect', sys.argv[1]]))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, env=ENV)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert "deberta-convert: internal error: KeyError: 'oops' (run with --verbose" in proc.stderr
