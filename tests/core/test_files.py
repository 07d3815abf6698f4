"""Checkpoint folder resolution, and hub ids resolved offline from a cache the test builds itself."""

import json
import os
import subprocess
import sys

import pytest

from deberta_core import files
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
