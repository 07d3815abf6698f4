"""Shared helpers for the Keras twin's tests: tolerances, fixture discovery, tiny configs, padded inputs, output
comparison, ``run_model_test`` and the torch-vs-Keras parity helper (outputs and gradients)."""

from __future__ import annotations

import os
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf

import deberta_tf
from conftest import HF_FIXTURES
from deberta_core import DebertaConfig
from deberta_core.weight_map import expand
from deberta_core.weight_plan import torch_to_keras
from deberta_tf.io import model_variables

# Same math as the reference, different kernels (oneDNN matmuls, LayerNorm, gather order): fp32 round-off.
ATOL_FP32 = 1e-5
# Gradients accumulate over more operations (and over the MLM vocabulary): a looser bound, as the issue fixes it.
ATOL_GRAD = 1e-4
# Mixed precision: float16 / bfloat16 keep 11 / 8 significant bits; only finiteness and training are checked.

HEADS = ["DebertaModel", "DebertaForMaskedLM", "DebertaForSequenceClassification",
         "DebertaForTokenClassification", "DebertaForQuestionAnswering"]
_SUFFIX_HEAD = {"model": "DebertaModel", "mlm": "DebertaForMaskedLM", "seqcls": "DebertaForSequenceClassification",
                "tokcls": "DebertaForTokenClassification", "qa": "DebertaForQuestionAnswering"}
MAIN_OUTPUT = {"DebertaModel": "last_hidden_state", "DebertaForMaskedLM": "logits",
               "DebertaForSequenceClassification": "logits", "DebertaForTokenClassification": "logits",
               "DebertaForQuestionAnswering": "start_logits"}
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
LABEL_NAMES = ("labels", "start_positions", "end_positions")

TINY = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
VARIANTS: Dict[str, dict] = {
    "rel_both": dict(relative_attention=True, pos_att_type="c2p|p2c", position_biased_input=False),
    "rel_c2p_clamp": dict(relative_attention=True, pos_att_type=["c2p"], max_relative_positions=4, type_vocab_size=2),
    "abs_only_types": dict(relative_attention=False, type_vocab_size=2, pooler_hidden_act="tanh"),
    "embproj_abs": dict(relative_attention=True, pos_att_type=["p2c"], embedding_size=24, type_vocab_size=2),
}


def fixture_dirs(kind: str) -> List[str]:
    """Model folders of tests/fixtures/hf/<kind> (tf_457, pt_v5, pt_457_bin), sorted."""
    root = HF_FIXTURES / kind
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def architecture_of(fixture_name: str) -> str:
    """``p1_rel_c2p_p2c__seqcls_multilabel`` -> ``DebertaForSequenceClassification``."""
    return _SUFFIX_HEAD[fixture_name.split("__")[1].split("_")[0]]


def tf_class(architecture: str):
    return getattr(deberta_tf, "TF" + architecture)


def load_npz(path) -> Dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def split_npz(data: Mapping[str, np.ndarray]) -> Tuple[dict, dict]:
    """(inputs, labels) of an expected*.npz."""
    return ({k: data[k] for k in INPUT_NAMES if k in data}, {k: data[k] for k in LABEL_NAMES if k in data})


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


# ---------------------------------------------------------------------------------------------------- inputs
def make_config(variant: str = "rel_both", **overrides) -> DebertaConfig:
    return DebertaConfig(**{**TINY, **VARIANTS[variant], **overrides})


def make_inputs(config: DebertaConfig, lengths=(11, 7, 3), seed: int = 0) -> Dict[str, np.ndarray]:
    """A right-padded batch (pad id 0) as NumPy int64, with token types where the config has them."""
    rng = np.random.default_rng(seed)
    batch, seq = len(lengths), max(lengths)
    attention_mask = (np.arange(seq)[None, :] < np.asarray(lengths)[:, None]).astype(np.int64)
    input_ids = rng.integers(1, config.vocab_size, (batch, seq)) * attention_mask
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if config.type_vocab_size > 0:
        inputs["token_type_ids"] = (np.arange(seq)[None, :] >= np.asarray(lengths)[:, None] // 2) * attention_mask
    return inputs


def make_labels(architecture: str, config: DebertaConfig, inputs, seed: int = 1) -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mask = np.asarray(inputs["attention_mask"]).astype(bool)
    batch, seq = mask.shape
    if architecture in ("DebertaForMaskedLM", "DebertaForTokenClassification"):
        classes = config.vocab_size if architecture == "DebertaForMaskedLM" else config.num_labels
        return {"labels": np.where(mask, rng.integers(0, classes, (batch, seq)), -100)}
    if architecture == "DebertaForSequenceClassification":
        if config.problem_type == "multi_label_classification":
            return {"labels": rng.integers(0, 2, (batch, config.num_labels)).astype(np.float32)}
        if config.num_labels == 1:
            return {"labels": rng.normal(size=(batch,)).astype(np.float32)}
        return {"labels": rng.integers(0, config.num_labels, (batch,))}
    if architecture == "DebertaForQuestionAnswering":
        lengths = mask.sum(1)
        start = (rng.random(batch) * lengths).astype(np.int64)
        return {"start_positions": start, "end_positions": np.minimum(start + 1, lengths - 1)}
    return {}


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


# ---------------------------------------------------------------------------------------------------- parity
def keras_gradients(model, inputs, labels) -> Tuple[Dict[str, np.ndarray], dict]:
    """(canonical name -> d loss / d variable, numpy outputs) of one eval-mode forward (dropout off)."""
    variables = model_variables(model)
    with tf.GradientTape() as tape:
        outputs = model({**inputs, **labels}, output_hidden_states=True, output_attentions=True, training=False)
        loss = outputs["loss"] if "loss" in outputs else tf.reduce_mean(tf.square(outputs["last_hidden_state"]))
    names = list(variables)
    grads = tape.gradient(loss, [variables[n] for n in names])
    out = {n: tf.convert_to_tensor(g).numpy() for n, g in zip(names, grads) if g is not None}
    return out, {**to_numpy(outputs), "loss": loss.numpy()}


def torch_gradients(model, inputs, labels) -> Tuple[Dict[str, np.ndarray], dict]:
    """(torch key -> d loss / d parameter, numpy outputs) of one eval-mode forward of a deberta_torch model."""
    import torch

    model.eval()
    model.zero_grad()
    tensors = {k: torch.from_numpy(np.asarray(v)) for k, v in {**inputs, **labels}.items()}
    outputs = model(**tensors, output_hidden_states=True, output_attentions=True)
    loss = outputs["loss"] if "loss" in outputs else outputs["last_hidden_state"].pow(2).mean()
    loss.backward()
    grads = {k: p.grad.numpy() for k, p in model.named_parameters() if p.grad is not None}
    return grads, {**to_numpy(outputs), "loss": loss.detach().numpy()}


def torch_keras_parity(folder: str, architecture: str, inputs, labels) -> Tuple[Dict[str, float], Dict[str, float]]:
    """Build both twins from one torch checkpoint folder; return ({output: max|diff|} on every position,
    {Keras weight name: max|grad diff|}), the torch gradients mapped through the weight map."""
    import deberta_torch

    torch_model = getattr(deberta_torch, architecture).from_pretrained(folder)
    keras_model = tf_class(architecture).from_pretrained(folder, from_pt=True)
    torch_grads, torch_out = torch_gradients(torch_model, inputs, labels)
    keras_grads, keras_out = keras_gradients(keras_model, inputs, labels)
    names = ["loss", "last_hidden_state", "logits", "start_logits", "end_logits", "hidden_states", "attentions"]
    output_diffs = max_abs_diffs(keras_out, torch_out, [n for n in names if n in keras_out])
    mapped = torch_to_keras(torch_grads, torch_model.config, architecture)
    assert sorted(mapped) == sorted(keras_grads), "both twins have gradients for the same weights"
    grad_diffs = {n: float(np.max(np.abs(keras_grads[n] - mapped[n]))) for n in mapped}
    return output_diffs, grad_diffs
