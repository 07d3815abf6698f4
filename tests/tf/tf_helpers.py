"""The Keras twin's test helpers (mirror of tests/torch/torch_helpers.py): output comparison, the weight-map
coverage check, ``run_model_test``. Configs, variants, tolerances and batch builders are the shared ones of
tests/conftest.py; twin parity (torch vs Keras) is proven once, in tests/conversion/test_conversion_parity.py."""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf

import deberta_tf
from conftest import INPUT_NAMES, MAIN_OUTPUT
from deberta_core import DebertaConfig
from deberta_core.weight_map import expand
from deberta_tf.io import model_variables


def tf_class(architecture: str):
    return getattr(deberta_tf, "TF" + architecture)


def to_numpy(outputs: Mapping) -> Dict[str, np.ndarray]:
    """A ModelOutput (tf or torch tensors) as NumPy; hidden_states / attentions stacked as in the npz files."""
    out = {}
    for name, value in outputs.items():
        if isinstance(value, (tuple, list)):
            out[name] = np.stack([_np(v) for v in value])
        else:
            out[name] = _np(value)
    return out


def _np(value) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().float().numpy()
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float32)


def max_abs_diffs(got: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray], names,
                  valid: Optional[np.ndarray] = None) -> Dict[str, float]:
    """{output name: max |got - expected|}, over every position, or only valid query/token rows when ``valid``
    ([b, s] bool) is given. Sequence-level outputs ([b, n]) are compared whole."""
    diffs = {}
    for name in names:
        if name not in expected:
            continue
        a, b = np.asarray(got[name], np.float64), np.asarray(expected[name], np.float64)
        if a.shape != b.shape:
            raise AssertionError(f"{name}: shape {a.shape} != expected {b.shape}")
        if valid is not None:
            a, b = _valid_rows(name, a, valid), _valid_rows(name, b, valid)
        diffs[name] = float(np.max(np.abs(a - b))) if a.size else 0.0
    return diffs


def _valid_rows(name: str, array: np.ndarray, valid: np.ndarray) -> np.ndarray:
    if name in ("hidden_states",):
        return array[:, valid]  # [n, b, s, e] -> [n, valid, e]
    if name == "attentions":
        return np.moveaxis(array, 3, 2)[:, valid]  # [n, b, h, s, s] -> query rows of valid tokens
    if array.ndim >= 2 and array.shape[:2] == valid.shape:
        return array[valid]
    return array


def assert_close(diffs: Mapping[str, float], atol: float, what: str) -> None:
    bad = {k: v for k, v in diffs.items() if not v <= atol}
    assert not bad, f"{what}: max |diff| above {atol}: {bad} (all: {diffs})"


# ---------------------------------------------------------------------------------------------------- checks
def check_weight_map_coverage(model) -> None:
    """Every Keras variable maps onto exactly one canonical name of the weight map, and every row has a variable."""
    model.build()
    architecture = type(model).__name__
    expected = [e.keras_name for e in expand(model.config, architecture)]
    assert len(expected) == len(set(expected)), "the weight map lists a name twice"
    names = list(model_variables(model))  # raises on a duplicate canonical name
    assert len(names) == len(model.weights)
    assert sorted(names) == sorted(expected), (
        f"not in the map: {sorted(set(names) - set(expected))}; no variable: {sorted(set(expected) - set(names))}"
    )
    shapes = {e.keras_name: e.keras_shape for e in expand(model.config, architecture)}
    wrong = {n: (tuple(v.shape), shapes[n]) for n, v in model_variables(model).items() if tuple(v.shape) != shapes[n]}
    assert not wrong, f"variable shapes differ from the map: {wrong}"


def run_model_test(cls, config: DebertaConfig, inputs: Mapping[str, np.ndarray], expected_shape) -> Tuple[object, dict]:
    """Build ``cls(config)``, run it on ``inputs`` and check: main output shape, the weight map coverage, the
    reference's input forms (kwargs, dict, list, single tensor) and ``return_dict=False`` give the same numbers,
    and the Keras config round trip rebuilds the same architecture. Returns (model, numpy outputs)."""
    model = cls(config)
    outputs = model(**inputs)
    architecture = cls.__name__[2:]
    main = MAIN_OUTPUT[architecture]
    assert tuple(outputs[main].shape) == tuple(expected_shape), f"{main}: {tuple(outputs[main].shape)} != {expected_shape}"
    assert np.all(np.isfinite(outputs[main].numpy()))
    check_weight_map_coverage(model)
    reference = outputs[main].numpy()
    ordered = [inputs[name] for name in INPUT_NAMES if name in inputs]
    if "token_type_ids" in inputs:
        ordered = [inputs["input_ids"], inputs["attention_mask"], inputs["token_type_ids"]]
    forms = {
        "dict": model(dict(inputs)),
        "list": model(ordered),
        "tuple": model(tuple(ordered)),
        "tuple_return": model(dict(inputs), return_dict=False),
    }
    for form, out in forms.items():
        value = out[0] if isinstance(out, tuple) else out[main]
        np.testing.assert_array_equal(value.numpy(), reference, err_msg=f"input form {form!r}")
    single = model(tf.constant(inputs["input_ids"]))  # one tensor: input_ids, no mask
    assert tuple(single[main].shape) == tuple(expected_shape)
    clone = cls.from_config(model.get_config())
    assert clone.config == model.config
    clone.build()
    assert [v.path.split("/", 1)[1] for v in clone.weights] == [v.path.split("/", 1)[1] for v in model.weights]
    return model, to_numpy(outputs)
