"""``deberta-convert inspect``: what a checkpoint is, without loading a framework where the format allows."""

from __future__ import annotations

import io
import os
import zipfile
from typing import Any, Dict, List, Optional, Tuple

import h5py
import numpy as np

from deberta_core import files as ckfiles
from deberta_core.weight_map import tolerated_torch_keys

from .sources import FAMILY, ConversionError, Source, open_reader, resolve_source


def inspect_checkpoint(path: str, *, task: Optional[str] = None) -> Dict[str, Any]:
    """Config summary, formats, parameter count, dtypes and size on disk of a checkpoint (folder or file).

    Framework-free for safetensors, h5 and .keras (read from the archive's weights with h5py); a ``.bin`` needs
    torch. Tolerated extras (tied copies, unused tables) are counted apart from the parameters.

    Args:
        path: a checkpoint folder, or one weights file in it.
        task: the head, when config.json names none or to override it (without either the architecture is None and
            tolerated extras are not told apart).

    Returns:
        A JSON-ready dict: ``path``, ``format``, ``weights_file``, ``other_formats``, ``architecture``, ``config``
        (the shape fields), ``tensors``, ``parameters``, ``ignored_extras``, ``dtypes`` (dtype -> tensor count) and
        ``size_bytes``.
    """
    path = os.fspath(path)
    # A folder whose config names no architecture is still inspected (architecture unknown); a lone file too.
    source = resolve_source(path, task=task, require_architecture=False)
    info: Dict[str, Any] = {
        "path": os.path.abspath(path),
        "format": source.fmt,
        "weights_file": source.path,
        "other_formats": source.other_formats,
        "architecture": source.architecture,
    }
    config = source.config
    info["config"] = {
        "hidden_size": config.hidden_size, "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads, "intermediate_size": config.intermediate_size,
        "vocab_size": config.vocab_size, "embedding_size": config.embedding_size,
        "max_position_embeddings": config.max_position_embeddings, "type_vocab_size": config.type_vocab_size,
        "relative_attention": config.relative_attention, "pos_att_type": config.pos_att_type,
        "position_biased_input": config.position_biased_input, "num_labels": config.num_labels,
    }
    if source.fmt == "keras":
        names_shapes = _keras_archive_shapes(source.path)
    else:
        with open_reader(source.fmt, source.path) as reader:
            names_shapes = {n: (reader.shape(n), reader.dtype(n)) for n in reader.names()}
    extras: List[str] = []
    if FAMILY[source.fmt] == "torch" and source.architecture:
        plain, tied = tolerated_torch_keys(names_shapes, config, source.architecture)
        extras = plain + [k for k, _ in tied]
    params = sum(int(np.prod(s, dtype=np.int64)) for n, (s, _) in names_shapes.items() if n not in extras)
    dtypes: Dict[str, int] = {}
    for n, (s, d) in names_shapes.items():
        dtypes[str(d)] = dtypes.get(str(d), 0) + 1
    info.update(
        tensors=len(names_shapes),
        parameters=params,
        ignored_extras=extras,
        dtypes=dtypes,
        size_bytes=_weights_size(source),
    )
    return info


def _weights_size(source: Source) -> int:
    if source.path.endswith(".index.json"):
        return sum(os.path.getsize(path) for path in ckfiles.shard_files(source.path))
    return os.path.getsize(source.path)


def _keras_archive_shapes(path: str) -> Dict[str, Tuple[Tuple[int, ...], np.dtype]]:
    """Variable path -> (shape, dtype) inside a .keras archive's model.weights.h5 (h5py only)."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read("model.weights.h5")
    except (OSError, KeyError, zipfile.BadZipFile) as err:
        raise ConversionError(f"{path!r} is not a readable .keras archive: {err}") from None
    out: Dict[str, Tuple[Tuple[int, ...], np.dtype]] = {}
    with h5py.File(io.BytesIO(data), "r") as handle:
        handle.visititems(lambda n, o: out.__setitem__(n, (tuple(o.shape), o.dtype))
                          if isinstance(o, h5py.Dataset) else None)
    return out


__all__ = ["inspect_checkpoint"]
