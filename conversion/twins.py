"""Twin to twin: the model classes of each framework, a deberta_torch model as its deberta_tf twin and back (in
memory, through the weight map), and a checkpoint of any format loaded into the framework it belongs to."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from deberta_core import DebertaConfig
from deberta_core.checkpoint_io import ArrayReader
from deberta_core.weight_map import normalize_architecture

from .sources import FAMILY, TORCH_FORMATS, load_keras_file, make_plan, open_reader, resolve_source

FRAMEWORKS = ("torch", "tf")


def framework_of(model: Any) -> str:
    """``"torch"`` for a deberta_torch model, ``"tf"`` for a deberta_tf one; TypeError otherwise."""
    module = type(model).__module__
    if module.startswith("deberta_torch"):
        return "torch"
    if module.startswith("deberta_tf"):
        return "tf"
    raise TypeError(f"expected a deberta_torch or deberta_tf model, got {type(model).__module__}.{type(model).__name__}")


def is_model(obj: Any, framework: str) -> bool:
    """Whether ``obj`` is a model of the twin ``framework`` (``"torch"`` or ``"tf"``)."""
    module = type(obj).__module__
    if framework == "torch":
        return module.startswith("deberta_torch") and hasattr(obj, "state_dict")
    return module.startswith("deberta_tf") and hasattr(obj, "weights")


def model_class(framework: str, architecture: str):
    """The model class of ``architecture`` in the twin ``framework`` (imports that framework)."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {FRAMEWORKS}, got {framework!r}")
    if framework == "torch":
        import deberta_torch

        return getattr(deberta_torch, normalize_architecture(architecture))
    import deberta_tf

    return getattr(deberta_tf, "TF" + normalize_architecture(architecture))


# ---------------------------------------------------------------------------------------------------- in memory
def torch_model_to_tf(model):
    """A deberta_torch model -> the deberta_tf twin of the same class and config, weights copied via the map.

    Args:
        model: a deberta_torch model (``DebertaModel`` or a head).

    Returns:
        The TF twin, built, with the same weights.
    """
    from deberta_tf.io import assign_weights
    from deberta_torch.io import model_weights

    arch = normalize_architecture(type(model).__name__)
    reader = ArrayReader(model_weights(model), "torch", f"<{type(model).__name__} state_dict>")
    plan = make_plan(reader, model.config, arch, "keras")
    tf_model = model_class("tf", arch)(plan.config)
    tf_model.build()
    assign_weights(tf_model, {item.dst: item.apply(reader.read(item.src)) for item in plan.items})
    return tf_model


def tf_model_to_torch(model):
    """A deberta_tf model -> the deberta_torch twin of the same class and config, weights copied via the map.

    Args:
        model: a deberta_tf model (``TFDebertaModel`` or a head).

    Returns:
        The torch twin, in eval mode, with the same weights.
    """
    import torch

    from deberta_tf.io import model_weights
    from deberta_torch.io import assign_weights

    arch = normalize_architecture(type(model).__name__)
    model.build()
    reader = ArrayReader(model_weights(model), "keras", f"<{type(model).__name__} weights>")
    plan = make_plan(reader, model.config, arch, "torch")
    torch_model = model_class("torch", arch)(plan.config)
    assign_weights(torch_model, {item.dst: torch.from_numpy(np.ascontiguousarray(item.apply(reader.read(item.src))))
                                 for item in plan.items})
    torch_model.eval()
    return torch_model


def load_checkpoint_model(path: str, *, task: Optional[str] = None, config: Optional[DebertaConfig] = None):
    """Load a checkpoint (folder or weights file, any format) into the framework its format belongs to.

    torch formats -> deberta_torch (``from_pretrained``), tf_model.h5 -> deberta_tf (``from_pretrained``), .keras ->
    deberta_tf (``keras.saving.load_model``). When the folder holds a format its loader would prefer over the one
    named, the named file is read through ``conversion.sources``' readers instead.

    Args:
        path: a checkpoint folder, or one weights file in it.
        task: the head (``"mlm"``, ``"seqcls"``, ... or an architecture name) when config.json names none, or to
            override it.
        config: use this configuration instead of the checkpoint's config.json.

    Returns:
        The model (a deberta_torch or a deberta_tf one).

    Raises:
        ValueError: a .keras file that holds another head than the one asked for; and the source and loading errors
            (``ConversionError``, ``CheckpointLoadError``).
    """

    source = resolve_source(path, task=task, config=config)
    arch = source.architecture
    if source.fmt == "keras":
        model = load_keras_file(source.path)
        if normalize_architecture(type(model).__name__) != arch:
            raise ValueError(f"{source.path!r} holds a {type(model).__name__}, expected TF{arch}")
        return model
    present = [source.fmt] + source.other_formats
    if FAMILY[source.fmt] == "torch":
        preferred = next(f for f in TORCH_FORMATS if f in present)
        if preferred == source.fmt:
            return model_class("torch", arch).from_pretrained(source.folder, config=source.config)
    elif source.fmt == "tf_h5":
        return model_class("tf", arch).from_pretrained(source.folder, config=source.config)
    # Another torch format would win in from_pretrained: build the model from the named file.
    import torch

    from deberta_torch.io import assign_weights

    with open_reader(source.fmt, source.path) as reader:
        plan = make_plan(reader, source.config, arch, "torch")
        model = model_class("torch", arch)(plan.config)
        assign_weights(model, {item.dst: torch.from_numpy(reader.read(item.src)) for item in plan.items})
    return model.eval()


__all__ = [
    "FRAMEWORKS", "framework_of", "is_model", "load_checkpoint_model", "model_class", "tf_model_to_torch",
    "torch_model_to_tf",
]
