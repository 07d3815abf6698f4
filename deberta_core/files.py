"""Checkpoint file names, and resolution of a folder (or, with the [hub] extra, a hub id) to the files in it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence

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
SPM_NAME = "spm.model"  # the v2/v3 SentencePiece model
ADDED_TOKENS_NAME = "added_tokens.json"
TOKENIZER_CONFIG_NAME = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_NAME = "special_tokens_map.json"
TOKENIZER_FILES = (VOCAB_NAME, MERGES_NAME, SPM_NAME, TOKENIZER_JSON_NAME, TOKENIZER_CONFIG_NAME, SPECIAL_TOKENS_MAP_NAME,
                   ADDED_TOKENS_NAME)

# The weight formats of each framework's own checkpoints, in the order a loader prefers them.
TORCH_WEIGHT_FORMATS = ("safetensors", "safetensors_sharded", "pytorch", "pytorch_sharded")
TF_WEIGHT_FORMATS = ("tf_h5",)
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


TMP_SUFFIX = ".tmp"
STAGING_PREFIX = ".deberta-staging-"


# Our temporary file names: ``.<name>.<pid>-<random>.tmp``, or ``.<pid>-<random>.tmp.<name>`` where a writer
# insists on the final name's ending (Keras' ``.keras`` / ``.weights.h5``).
_TMP_NAME = re.compile(r"\.(?:.+\.)?(\d+)-[a-z0-9_]+\.tmp(?:\..+)?")


def _umask() -> int:
    """The process umask, read without changing it where the system says it (Linux); elsewhere by setting and
    restoring it (briefly visible to other threads)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def plain_permissions(path: str) -> None:
    """Give a file (0666) or folder (0777) the permissions a plain ``open``/``mkdir`` would give under the user's
    umask. ``mkstemp``/``mkdtemp`` create them private (0600/0700); what we save must not stay that way."""
    os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~_umask())


def _owner_pid(name: str, prefix: str) -> Optional[int]:
    """The writer's process id in a temporary name of ours (``<prefix><pid>-<random>``), else None."""
    head = name[len(prefix):].split("-", 1)[0] if name.startswith(prefix) else ""
    return int(head) if head.isdigit() else None


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(folder: "os.PathLike | str") -> List[str]:
    """Remove what a killed writer of this machine left in ``folder``: our temporary files
    (``.<name>.<pid>-*.tmp``) and staging folders (``.deberta-*-<pid>-*``) whose process is gone. Another
    process's writes in progress are left alone. Returns the paths removed."""
    folder = os.fspath(folder)
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        path = os.path.join(folder, name)
        if name.startswith(".deberta-") and os.path.isdir(path) and not os.path.islink(path):
            prefix = name[: name.index("-", len(".deberta-")) + 1] if "-" in name[len(".deberta-"):] else name
            pid = _owner_pid(name, prefix)
            if pid is not None and not _pid_alive(pid):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        elif name.startswith(".") and TMP_SUFFIX in name and os.path.isfile(path):
            match = _TMP_NAME.fullmatch(name)
            if match and not _pid_alive(int(match.group(1))):
                with contextlib.suppress(OSError):
                    os.remove(path)
                    removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_write(path: "os.PathLike | str", keep_name_ending: bool = False) -> Iterator[str]:
    """Yield a unique temporary path in the target's folder; on success it replaces ``path`` in one step
    (``os.replace``) with a plain file's permissions, on any error (KeyboardInterrupt included) it is removed.
    Readers never see a half-written file, and concurrent writers to one folder do not share a temporary name;
    the writer's pid in that name lets ``remove_stale_temporaries`` clean up after a killed process.
    ``keep_name_ending``: the temporary name ends with the final name (for writers that check the extension)."""
    final = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(final))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {final!r}: the folder {folder!r} does not exist")
    remove_stale_temporaries(folder)
    base = os.path.basename(final)
    if keep_name_ending:
        handle, tmp = tempfile.mkstemp(prefix=f".{os.getpid()}-", suffix=f"{TMP_SUFFIX}.{base}", dir=folder)
    else:
        handle, tmp = tempfile.mkstemp(prefix=f".{base}.{os.getpid()}-", suffix=TMP_SUFFIX, dir=folder)
    os.close(handle)
    try:
        yield tmp
        plain_permissions(tmp)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


class Staging:
    """Several files prepared in a private folder and moved into ``dst`` only by ``commit`` (``abort`` removes
    them): the one staged-write helper for outputs of more than one file. On an exception or KeyboardInterrupt
    inside ``with Staging(dst) as staging:`` nothing reaches ``dst``.

    ``dst`` missing: the staging folder is a sibling and is renamed to ``dst`` (atomic). ``dst`` present: the
    staging folder lives inside it and each file is moved in with ``os.replace`` (each file atomic; the data is
    all written before the first move, so only a kill between two renames can mix old and new files). Committed
    files and folders get plain permissions (umask), not the private ones of ``mkdtemp``. Staging folders of
    killed processes (``<prefix><pid>-...``) are removed by the next Staging in the same place.
    """

    def __init__(self, dst: "os.PathLike | str", prefix: str = STAGING_PREFIX, parents: bool = False) -> None:
        self.dst = os.path.abspath(os.fspath(dst))
        self.fresh = not os.path.exists(self.dst)
        parent = os.path.dirname(self.dst) if self.fresh else self.dst
        if self.fresh and parents:
            os.makedirs(parent, exist_ok=True)
        if self.fresh and not os.path.isdir(parent):
            raise CheckpointError(f"cannot write {self.dst!r}: its parent folder {parent!r} does not exist")
        if not self.fresh and not os.path.isdir(self.dst):
            raise CheckpointError(f"cannot write into {self.dst!r}: it is a file, not a folder")
        remove_stale_temporaries(parent)
        self.folder: Optional[str] = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent)

    @staticmethod
    def path_name(name: str) -> str:
        """``name``, checked to be a bare file name (no folder part)."""
        if not name or os.path.basename(name) != name or name in (".", ".."):
            raise ValueError(f"a staged file needs a bare file name, got {name!r}")
        return name

    def path(self, name: str) -> str:
        """Where to write the file ``name`` (a bare file name) before the commit."""
        return os.path.join(self.folder, self.path_name(name))

    def commit(self, replaces: Sequence[str] = ()) -> List[str]:
        """Move every staged file into ``dst``, then remove the files named in ``replaces`` (bare names in
        ``dst``: the old files that the new ones supersede, such as the other weight format) that were not
        staged; returns the final paths (sorted by name)."""
        names = sorted(os.listdir(self.folder))
        for name in names:
            plain_permissions(os.path.join(self.folder, name))
        if self.fresh:
            plain_permissions(self.folder)
            os.rename(self.folder, self.dst)
        else:
            for name in names:
                os.replace(os.path.join(self.folder, name), os.path.join(self.dst, name))
            os.rmdir(self.folder)
            for name in replaces:
                if name not in names and os.path.isfile(os.path.join(self.dst, name)):
                    os.remove(os.path.join(self.dst, self.path_name(name)))
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
    """The path of a shard file named by an index: the one place where a shard name becomes a path.

    A shard must lie in the index's folder: an absolute name, a name with a folder part (``../x``, ``a/b``) or a
    file that resolves (through symlinks) outside that folder is refused with a CheckpointError naming the
    index, before anything is opened; a checkpoint cannot make us read files elsewhere."""
    index_path = os.fspath(index_path)
    folder = os.path.dirname(os.path.abspath(index_path))
    if (not isinstance(shard, str) or not shard or os.path.isabs(shard) or shard in (".", "..")
            or "/" in shard or "\\" in shard or "\0" in shard):
        raise CheckpointError(
            f"the shard index {index_path!r} names the shard {shard!r}, which is not a plain file name in its "
            f"folder; shards must lie next to the index (refused before opening anything)"
        )
    path = os.path.join(folder, shard)
    real_folder = os.path.realpath(folder)
    if os.path.dirname(os.path.realpath(path)) != real_folder:
        raise CheckpointError(
            f"the shard index {index_path!r} names {shard!r}, a link to {os.path.realpath(path)!r} outside the "
            f"checkpoint folder {real_folder!r}; shards must lie next to the index (refused before opening it)"
        )
    return path


def shard_files(index_path: "os.PathLike | str") -> List[str]:
    """The shard files an index lists (each once, sorted by name), checked to exist."""
    paths = [shard_path(index_path, name) for name in sorted(set(read_shard_index(index_path).values()))]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"shard index {os.fspath(index_path)!r} lists files that are missing: {missing}")
    return paths


def weight_file_names(folder: "os.PathLike | str", formats: Sequence[str]) -> List[str]:
    """The bare names of the weight files of ``formats`` that ``folder`` holds, shards of a readable index
    included (what a save in one of those formats supersedes and removes, so that the loader cannot pick an old
    file next to the new config)."""
    folder = os.fspath(folder)
    names = []
    for fmt in formats:
        path = os.path.join(folder, WEIGHT_FILES[fmt])
        if not os.path.isfile(path):
            continue
        names.append(WEIGHT_FILES[fmt])
        if fmt.endswith("_sharded"):
            with contextlib.suppress(OSError, ValueError):
                names += [os.path.basename(shard_path(path, shard)) for shard in set(read_shard_index(path).values())]
    return sorted(set(names))


@dataclass
class CheckpointFiles:
    """What a checkpoint folder holds. Paths are absolute; a format that is absent is not in ``weights``.

    Attributes:
        folder: the folder.
        config: the path of its config.json, or None.
        weights: format name (``"safetensors"``, ``"safetensors_sharded"``, ``"pytorch"``, ``"pytorch_sharded"``,
            ``"tf_h5"``, ``"keras"``) -> the path of its file (the index file for shards).
        tokenizer: file name -> path of each tokenizer file the folder holds.
        formats: the weight formats present, in ``weights``' order.
    """

    folder: str
    config: Optional[str] = None
    weights: dict = field(default_factory=dict)  # format name -> path of the file (index file for shards)
    tokenizer: dict = field(default_factory=dict)  # file name -> path

    @property
    def formats(self) -> List[str]:
        return list(self.weights)

    def pick(self, formats: Sequence[str], logger=None) -> Optional[str]:
        """The first of ``formats`` (a loader's order of preference) that the folder holds, or None. When it holds
        several of them, which one is read is logged as a WARNING on ``logger`` (shown by default): the others are
        not compared.

        Args:
            formats: format names, most preferred first.
            logger: where to log the choice; None logs nothing.
        """
        found = [fmt for fmt in formats if fmt in self.weights]
        if len(found) > 1 and logger is not None:
            others = ", ".join(os.path.basename(self.weights[f]) for f in found[1:])
            logger.warning("%s holds %s and %s; loading %s (the others are ignored)", self.folder,
                           os.path.basename(self.weights[found[0]]), others, os.path.basename(self.weights[found[0]]))
        return found[0] if found else None

    def shard_files(self, fmt: str) -> List[str]:
        """The shard files listed by a ``*_sharded`` index, checked to exist.

        Args:
            fmt: ``"safetensors_sharded"`` or ``"pytorch_sharded"`` (a format the folder holds).

        Returns:
            The shard paths, each once, sorted by name.

        Raises:
            FileNotFoundError: the index lists a file that is missing.
        """
        return shard_files(self.weights[fmt])


def scan_folder(folder: str) -> CheckpointFiles:
    """Which checkpoint files ``folder`` holds (no reading beyond the directory listing).

    Args:
        folder: the folder (made absolute).
    """
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

    Args:
        path_or_id: a checkpoint folder, or a hub id (tried when no such path exists).
        require_weights: a folder without any weight file is an error.
        cache_dir: the hub's download cache (hub ids only; default the hub client's).
        revision: the hub branch, tag or commit.
        token: the hub token (private repositories).
        local_files_only: use only what the hub cache already holds (no download).

    Returns:
        The files the folder (or the downloaded snapshot) holds.

    Raises:
        FileNotFoundError: the path is a file, neither a folder nor a hub id, cannot be fetched, or (with
            ``require_weights``) holds no weights; the message lists what was looked for.
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
