"""Checkpoint file names, and resolution of a folder (or, with the [hub] extra, a hub id) to the files in it."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Iterator, List, Optional

CONFIG_NAME = "config.json"
SAFE_WEIGHTS_NAME = "model.safetensors"
SAFE_WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
WEIGHTS_NAME = "pytorch_model.bin"
WEIGHTS_INDEX_NAME = "pytorch_model.bin.index.json"
TF2_WEIGHTS_NAME = "tf_model.h5"
KERAS_NAME = "model.keras"

VOCAB_NAME = "vocab.json"
MERGES_NAME = "merges.txt"
TOKENIZER_JSON_NAME = "tokenizer.json"
TOKENIZER_CONFIG_NAME = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_NAME = "special_tokens_map.json"
TOKENIZER_FILES = (VOCAB_NAME, MERGES_NAME, TOKENIZER_JSON_NAME, TOKENIZER_CONFIG_NAME, SPECIAL_TOKENS_MAP_NAME)

# Weight formats, in the order a loader prefers them when a folder holds several.
WEIGHT_FILES = {
    "safetensors": SAFE_WEIGHTS_NAME,
    "safetensors_sharded": SAFE_WEIGHTS_INDEX_NAME,
    "pytorch": WEIGHTS_NAME,
    "pytorch_sharded": WEIGHTS_INDEX_NAME,
    "tf_h5": TF2_WEIGHTS_NAME,
    "keras": KERAS_NAME,
}

# Files fetched from the hub for a checkpoint (weights in every format we read, config and tokenizer).
HUB_PATTERNS = [CONFIG_NAME, "*.safetensors", SAFE_WEIGHTS_INDEX_NAME, WEIGHTS_NAME, WEIGHTS_INDEX_NAME,
                "pytorch_model-*.bin", TF2_WEIGHTS_NAME, *TOKENIZER_FILES]


@contextlib.contextmanager
def atomic_write(path: "os.PathLike | str") -> Iterator[str]:
    """Yield a unique temporary path in the target's folder; on success it replaces ``path`` in one step
    (``os.replace``), on any error it is removed. Readers never see a half-written file, and concurrent writers
    to one folder do not share a temporary name."""
    final = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(final))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {final!r}: the folder {folder!r} does not exist")
    handle, tmp = tempfile.mkstemp(prefix="." + os.path.basename(final) + ".", suffix=".tmp", dir=folder)
    os.close(handle)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


@dataclass
class CheckpointFiles:
    """What a checkpoint folder holds. Paths are absolute; a format that is absent is not in ``weights``."""

    folder: str
    config: Optional[str] = None
    weights: dict = field(default_factory=dict)  # format name -> path of the file (index file for shards)
    tokenizer: dict = field(default_factory=dict)  # file name -> path

    @property
    def formats(self) -> List[str]:
        return list(self.weights)

    def shard_files(self, fmt: str) -> List[str]:
        """The shard files listed by a ``*_sharded`` index, checked to exist."""
        index_path = self.weights[fmt]
        try:
            with open(index_path, encoding="utf-8") as handle:
                index = json.load(handle)
            weight_map = index["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{index_path!r} is not a valid shard index (expected a 'weight_map' object): {err}") from None
        shards = sorted(set(weight_map.values()))
        paths = [os.path.join(self.folder, name) for name in shards]
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise FileNotFoundError(f"shard index {index_path!r} lists files that are missing: {missing}")
        return paths


def scan_folder(folder: str) -> CheckpointFiles:
    """Which checkpoint files ``folder`` holds (no reading beyond the directory listing)."""
    folder = os.path.abspath(folder)
    files = CheckpointFiles(folder=folder)
    config = os.path.join(folder, CONFIG_NAME)
    if os.path.isfile(config):
        files.config = config
    for fmt, name in WEIGHT_FILES.items():
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            files.weights[fmt] = path
    for name in TOKENIZER_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            files.tokenizer[name] = path
    return files


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return (
        0 < len(parts) <= 2
        and all(parts)
        and not name.startswith((".", "~"))
        and not os.path.isabs(name)
        and "\\" not in name
    )


def _download_snapshot(repo_id: str, cache_dir=None, revision=None, token=None, local_files_only=False) -> str:
    try:
        import huggingface_hub
    except ImportError:
        raise FileNotFoundError(
            f"{repo_id!r} is not a local folder, and loading from the hub needs the [hub] extra "
            f"(pip install 'deberta-dual[hub]')"
        ) from None
    try:
        return huggingface_hub.snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=cache_dir,
            token=token,
            local_files_only=local_files_only,
            allow_patterns=HUB_PATTERNS,
        )
    except Exception as err:  # the hub client raises many types; the user needs one clear message
        raise FileNotFoundError(
            f"{repo_id!r} is not a local folder and could not be fetched from the hub "
            f"({type(err).__name__}: {err})"
        ) from err


def resolve_checkpoint(
    path_or_id: str,
    *,
    require_weights: bool = True,
    cache_dir: Optional[str] = None,
    revision: Optional[str] = None,
    token: Optional[str] = None,
    local_files_only: bool = False,
) -> CheckpointFiles:
    """Resolve a local folder, or a hub id (``owner/name``, needs the [hub] extra), to its checkpoint files.

    Raises FileNotFoundError listing what was looked for when the folder is missing or (with
    ``require_weights``) holds no weights.
    """
    path = os.fspath(path_or_id)
    if os.path.isdir(path):
        files = scan_folder(path)
    elif os.path.exists(path):
        raise FileNotFoundError(f"{path!r} is a file; expected a checkpoint folder (holding {CONFIG_NAME} and weights)")
    elif _looks_like_hub_id(path):
        files = scan_folder(_download_snapshot(path, cache_dir, revision, token, local_files_only))
    else:
        raise FileNotFoundError(
            f"no checkpoint folder at {path!r} (it does not exist), and it is not a hub id of the form 'owner/name'"
        )
    if require_weights and not files.weights:
        looked_for = ", ".join(WEIGHT_FILES.values())
        raise FileNotFoundError(f"no weights in {files.folder!r}: looked for {looked_for}")
    return files
