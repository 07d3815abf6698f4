"""ModelOutput: the output container shared by both backends.

An ordered mapping with attribute access. Fields set to None are left out of the mapping, of iteration and of
``to_tuple()``, so ``outputs[0]`` is the first field that is present (the loss when labels were given, the
logits otherwise), as in the reference. Holds torch tensors, tf tensors or NumPy arrays alike: it never looks
inside its values.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Tuple

# The field names in the reference's order (loss first, then the main output, then the optional ones).
FIELD_ORDER = (
    "loss",
    "logits",
    "start_logits",
    "end_logits",
    "last_hidden_state",
    "pooler_output",
    "hidden_states",
    "attentions",
)


class ModelOutput(OrderedDict):
    """Ordered mapping + attribute access; ``None`` fields are absent.

    >>> out = ModelOutput(logits=1, loss=None, hidden_states=(2, 3))
    >>> list(out), out.logits, out[0], out.to_tuple(), out.loss
    (['logits', 'hidden_states'], 1, 1, (1, (2, 3)), None)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        items = dict(*args, **kwargs)
        ordered = [name for name in FIELD_ORDER if name in items] + [n for n in items if n not in FIELD_ORDER]
        for name in ordered:
            if items[name] is not None:
                super().__setitem__(name, items[name])

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(key)
        return self.to_tuple()[key]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self:
            return super().__getitem__(name)
        if name in FIELD_ORDER:
            return None  # a known field that was not produced
        raise AttributeError(f"{type(self).__name__} has no field {name!r}; it holds {list(self.keys())}")

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __setitem__(self, key: str, value: Any) -> None:
        if value is None:
            self.pop(key, None)
        else:
            super().__setitem__(key, value)

    def __delattr__(self, name: str) -> None:
        del self[name]

    def to_tuple(self) -> Tuple[Any, ...]:
        """The values of the fields that are present (not None), in field order: the reference's tuple output."""
        return tuple(self.values())

    def __reduce__(self):
        return (type(self), (dict(self),))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={_short(v)}" for k, v in self.items())
        return f"{type(self).__name__}({fields})"


def _short(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"<{type(value).__name__} shape={tuple(shape)}>"
    if isinstance(value, tuple):
        return f"<tuple of {len(value)}>"
    return repr(value)


# Label value ignored by every token-level loss, in both twins (as the reference).
IGNORE_INDEX = -100


def pack_head_outputs(return_dict: bool, loss: Any, main: dict, outputs: ModelOutput) -> Any:
    """A task head's result: its loss and main outputs, then the encoder's hidden states and attentions; a
    ModelOutput, or its tuple when ``return_dict`` is false."""
    result = ModelOutput(loss=loss, **main, hidden_states=outputs.hidden_states, attentions=outputs.attentions)
    return result if return_dict else result.to_tuple()
