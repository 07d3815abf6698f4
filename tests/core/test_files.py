"""Checkpoint folder resolution, and hub ids resolved offline from a cache the test builds itself."""

import json
import os
import pathlib
import re
import stat
import subprocess
import sys

import numpy as np
import pytest

from deberta_core import files
from deberta_core.errors import CheckpointError
from deberta_core.files import resolve_checkpoint, scan_folder

from conftest import HF_FIXTURES


def test_reference_folders_are_recognised():
    pt = resolve_checkpoint(HF_FIXTURES / "pt_v5" / "p1_rel_c2p_p2c__mlm")
    assert pt.formats == ["safetensors"] and pt.config.endswith("config.json")
    tf = resolve_checkpoint(HF_FIXTURES / "tf_457" / "p1_rel_c2p_p2c__mlm")
    assert tf.formats == ["tf_h5"]
    binary = resolve_checkpoint(HF_FIXTURES / "pt_457_bin" / "p1_rel_c2p_p2c__mlm")
    assert binary.formats == ["pytorch"]


def test_missing_folder_and_empty_folder_list_what_was_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_checkpoint(tmp_path / "nope")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"no weights in .*looked for model\.safetensors, .*tf_model\.h5"):
        resolve_checkpoint(tmp_path)
    assert resolve_checkpoint(tmp_path, require_weights=False).config is not None
    with pytest.raises(FileNotFoundError, match="is a file; expected a checkpoint folder"):
        resolve_checkpoint(tmp_path / "config.json")


def test_sharded_index(tmp_path):
    (tmp_path / "model-00001-of-00002.safetensors").write_bytes(b"")
    (tmp_path / files.SAFE_WEIGHTS_INDEX_NAME).write_text(json.dumps(
        {"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    ))
    found = scan_folder(tmp_path)
    assert found.formats == ["safetensors_sharded"]
    with pytest.raises(FileNotFoundError, match="lists files that are missing"):
        found.shard_files("safetensors_sharded")
    (tmp_path / "model-00002-of-00002.safetensors").write_bytes(b"")
    assert [os.path.basename(p) for p in found.shard_files("safetensors_sharded")] == [
        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    (tmp_path / files.SAFE_WEIGHTS_INDEX_NAME).write_text("[1, 2]")
    with pytest.raises(ValueError, match="is not a valid shard index"):
        found.shard_files("safetensors_sharded")


def _build_hub_cache(cache_dir, repo_id, source_folder, commit="0123456789abcdef0123456789abcdef01234567"):
    """The huggingface_hub cache layout: models--owner--name/{refs/main, snapshots/<commit>/...}."""
    repo_dir = cache_dir / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)
    for item in source_folder.iterdir():
        (snapshot / item.name).write_bytes(item.read_bytes())
    return snapshot


def test_hub_id_resolves_offline_from_cache(tmp_path):
    source = HF_FIXTURES / "pt_v5" / "p1_rel_c2p_p2c__seqcls"
    snapshot = _build_hub_cache(tmp_path, "someone/tiny-deberta", source)
    script = (
        "import sys; from deberta_core.files import resolve_checkpoint; from deberta_core import DebertaConfig;"
        f"f = resolve_checkpoint('someone/tiny-deberta', cache_dir={str(tmp_path)!r});"
        "print(f.folder); print(f.formats);"
        f"print(DebertaConfig.from_pretrained('someone/tiny-deberta', cache_dir={str(tmp_path)!r}).vocab_size)"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    folder, formats, vocab = done.stdout.strip().splitlines()
    assert os.path.realpath(folder) == os.path.realpath(snapshot)
    assert formats == "['safetensors']" and vocab == "256"

    missing = "import deberta_core.files as f; f.resolve_checkpoint('someone/not-cached', cache_dir=%r)" % str(tmp_path)
    done = subprocess.run([sys.executable, "-c", missing], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode != 0
    assert "'someone/not-cached' is not a local folder and could not be fetched from the hub" in done.stderr


# ---------------------------------------------------------------------------------------------------- shard confinement
def sharded_folder(folder, tensors=None, shard_names=("model-00001-of-00002.safetensors",
                                                        "model-00002-of-00002.safetensors")):
    """A two-shard safetensors checkpoint (NumPy tensors a, b) with its index; returns the index path."""
    from deberta_core.checkpoint_io import write_safetensors

    tensors = tensors or {"a": np.arange(4, dtype=np.float32), "b": np.ones((2, 3), dtype=np.float32)}
    folder.mkdir(parents=True, exist_ok=True)
    weight_map = {}
    for (name, value), shard in zip(sorted(tensors.items()), shard_names):
        write_safetensors({name: value}, folder / shard)
        weight_map[name] = shard
    index = folder / files.SAFE_WEIGHTS_INDEX_NAME
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return index


def point_shard_at(index, name, shard):
    data = json.loads(index.read_text())
    data["weight_map"][name] = shard
    index.write_text(json.dumps(data))


def escaping_index(tmp_path, how):
    """A checkpoint whose index names a shard outside its folder (the outside file exists and is valid)."""
    index = sharded_folder(tmp_path / "ckpt")
    outside = tmp_path / "outside.safetensors"
    from deberta_core.checkpoint_io import write_safetensors

    write_safetensors({"b": np.zeros((2, 3), dtype=np.float32)}, outside)
    if how == "dotdot":
        point_shard_at(index, "b", "../outside.safetensors")
    elif how == "absolute":
        point_shard_at(index, "b", str(outside))
    elif how == "subfolder":
        (tmp_path / "ckpt" / "sub").mkdir()
        point_shard_at(index, "b", "sub/model.safetensors")
    else:  # a symlink in the folder that leads out of it
        os.symlink(outside, tmp_path / "ckpt" / "linked.safetensors")
        point_shard_at(index, "b", "linked.safetensors")
    return index


ESCAPES = {"dotdot": "'../outside.safetensors'", "absolute": "outside.safetensors", "subfolder": "'sub/model",
           "symlink": "outside the checkpoint folder"}


@pytest.mark.parametrize("how", [
    pytest.param(how, marks=pytest.mark.bad_input(
        f"a shard index naming a shard outside its folder ({how})", CheckpointError, fragment))
    for how, fragment in ESCAPES.items()
])
def test_shard_outside_the_folder_is_refused_before_opening(tmp_path, how, monkeypatch, expect_bad_input):
    from deberta_core.checkpoint_io import SafetensorsReader

    index = escaping_index(tmp_path, how)
    opened = []
    real_open = open
    def recording_open(path, *args, **kwargs):
        opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", recording_open)
    with expect_bad_input():
        SafetensorsReader(index)
    # refused before the outside file was opened
    assert not [p for p in opened if os.path.basename(p) == "outside.safetensors"], opened
    with pytest.raises(CheckpointError, match=re.escape(str(index))):  # the message names the index
        files.shard_files(index)


def test_shards_next_to_the_index_are_read(tmp_path):
    from deberta_core.checkpoint_io import read_safetensors

    index = sharded_folder(tmp_path / "ckpt")
    os.symlink(tmp_path / "ckpt" / "model-00002-of-00002.safetensors", tmp_path / "ckpt" / "alias.safetensors")
    point_shard_at(index, "b", "alias.safetensors")  # a link that stays inside the folder is fine
    assert sorted(read_safetensors(index)) == ["a", "b"]


# ---------------------------------------------------------------------------------------------------- all-or-nothing writes
def test_atomic_write_leaves_nothing_on_error_or_interrupt(tmp_path):
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")
    for error in (RuntimeError("disk full"), KeyboardInterrupt()):
        with pytest.raises(type(error)):
            with files.atomic_write(target) as tmp:
                with open(tmp, "wb") as handle:
                    handle.write(b"half")
                raise error
        assert target.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["file.bin"]


def test_staging_leaves_the_folder_as_it_was_on_error(tmp_path):
    dst = tmp_path / "out"
    dst.mkdir()
    (dst / "config.json").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with files.Staging(dst) as staging:
            (pathlib.Path(staging.path("config.json"))).write_text("new")
            raise KeyboardInterrupt
    assert sorted(os.listdir(dst)) == ["config.json"] and (dst / "config.json").read_text() == "old"
    with pytest.raises(RuntimeError):
        with files.Staging(tmp_path / "fresh") as staging:
            (pathlib.Path(staging.path("a"))).write_text("a")
            raise RuntimeError
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_saved_files_get_plain_permissions_not_private_ones(tmp_path):
    old = os.umask(0o022)
    try:
        with files.atomic_write(tmp_path / "one.txt") as tmp:
            pathlib.Path(tmp).write_text("x")
        with files.Staging(tmp_path / "folder") as staging:
            pathlib.Path(staging.path("two.txt")).write_text("y")
            staging.commit()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "one.txt").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "folder").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tmp_path / "folder" / "two.txt").st_mode) == 0o644


def test_temporaries_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has exited
    stale_file = tmp_path / f".config.json.{pid}-abc123.tmp"
    stale_keras = tmp_path / f".{pid}-x_y9.tmp.model.keras"
    stale_dir = tmp_path / f".deberta-staging-{pid}-q1w2e3"
    live_file = tmp_path / f".config.json.{os.getpid()}-zzz.tmp"  # a write in progress in this process
    for path in (stale_file, stale_keras, live_file):
        path.write_text("half")
    stale_dir.mkdir()
    (stale_dir / "model.safetensors").write_text("half")
    with files.Staging(tmp_path) as staging:
        pathlib.Path(staging.path("config.json")).write_text("{}")
        staging.commit()
    assert sorted(os.listdir(tmp_path)) == sorted(["config.json", live_file.name])


def test_staging_needs_bare_file_names(tmp_path):
    with files.Staging(tmp_path / "out") as staging:
        with pytest.raises(ValueError, match="bare file name"):
            staging.path("../escape.txt")


def test_a_v3_tokenizer_resolves_from_a_hub_id_with_its_spm_model(tmp_path):
    """The hub download names spm.model and added_tokens.json (HUB_PATTERNS), and a cached hub snapshot of a v3
    tokenizer folder loads by its id."""
    from deberta_core.files import HUB_PATTERNS

    assert {"spm.model", "added_tokens.json"} <= set(HUB_PATTERNS)
    source = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "spm" / "v3like"
    _build_hub_cache(tmp_path, "someone/tiny-v3", source)
    script = ("from deberta_core import DebertaV2Tokenizer;"
              f"t = DebertaV2Tokenizer.from_pretrained('someone/tiny-v3', cache_dir={str(tmp_path)!r});"
              "print(t('Hello world')['input_ids'])")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert done.returncode == 0, done.stderr
    from deberta_core import DebertaV2Tokenizer

    expected = DebertaV2Tokenizer.from_pretrained(str(source))("Hello world")["input_ids"]
    assert done.stdout.strip() == str(expected)
