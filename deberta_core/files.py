"""Checkpoint file names, and resolution of a folder (or, with the [hub] extra, a hub id) to the files in it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional

from .errors import CheckpointError

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

# Keyword arguments of the from_pretrained methods that go to the hub resolver (resolve_checkpoint).
HUB_KWARGS = ("cache_dir", "revision", "token", "local_files_only")

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


STAGING_PREFIX = ".deberta-staging-"


class Staging:
    """Several files prepared in a private folder and moved into ``dst`` only by ``commit`` (``abort`` removes
    them): the one staged-write helper for outputs of more than one file.

    ``dst`` missing: the staging folder is a sibling and is renamed to ``dst`` (atomic). ``dst`` present: the
    staging folder lives inside it and each file is moved in with ``os.replace`` (each file atomic).
    """

    def __init__(self, dst: "os.PathLike | str", prefix: str = STAGING_PREFIX) -> None:
        self.dst = os.path.abspath(os.fspath(dst))
        self.fresh = not os.path.exists(self.dst)
        parent = os.path.dirname(self.dst) if self.fresh else self.dst
        if self.fresh and not os.path.isdir(parent):
            raise CheckpointError(f"cannot write {self.dst!r}: its parent folder {parent!r} does not exist")
        self.folder: Optional[str] = tempfile.mkdtemp(prefix=prefix, dir=parent)

    def path(self, name: str) -> str:
        """Where to write the file ``name`` (a bare file name) before the commit."""
        return os.path.join(self.folder, name)

    def commit(self) -> List[str]:
        """Move every staged file into ``dst``; returns their final paths (sorted by name)."""
        names = sorted(os.listdir(self.folder))
        if self.fresh:
            os.rename(self.folder, self.dst)
        else:
            for name in names:
                os.replace(os.path.join(self.folder, name), os.path.join(self.dst, name))
            os.rmdir(self.folder)
        self.folder = None
        return [os.path.join(self.dst, n) for n in names]

    def abort(self) -> None:
        """Remove whatever was staged (a no-op after ``commit``)."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc) -> None:
        self.abort()


# ---------------------------------------------------------------------------------------------------- shard index
def read_shard_index(index_path: "os.PathLike | str") -> Dict[str, str]:
    """The one parser of a shard index (``model.safetensors.index.json``, ``pytorch_model.bin.index.json``):
    tensor name -> shard file name, as the index writes it. Raises CheckpointError for anything but a JSON object
    with a ``weight_map`` object of non-empty strings, FileNotFoundError for a missing index."""
    path = os.fspath(index_path)
    try:
        with open(path, encoding="utf-8") as handle:
            index = json.load(handle)
        weight_map = index["weight_map"]
        if not isinstance(weight_map, dict):
            raise TypeError(f"'weight_map' is a {type(weight_map).__name__}")
        bad = [name for name, shard in weight_map.items() if not isinstance(shard, str) or not shard]
        if bad:
            raise TypeError(f"the entries {bad[:5]} do not name a shard file")
    except FileNotFoundError:
        raise FileNotFoundError(f"no shard index at {path!r}") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(
            f"{path!r} is not a valid shard index (expected JSON with a 'weight_map' object): {err}"
        ) from None
    return dict(weight_map)


def shard_path(index_path: "os.PathLike | str", shard: str) -> str:
    """The path of a shard file named by an index: the one place where a shard name becomes a path."""
    return os.path.join(os.path.dirname(os.path.abspath(os.fspath(index_path))), shard)


def shard_files(index_path: "os.PathLike | str") -> List[str]:
    """The shard files an index lists (each once, sorted by name), checked to exist."""
    paths = [shard_path(index_path, name) for name in sorted(set(read_shard_index(index_path).values()))]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"shard index {os.fspath(index_path)!r} lists files that are missing: {missing}")
    return paths


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
        return shard_files(self.weights[fmt])


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
