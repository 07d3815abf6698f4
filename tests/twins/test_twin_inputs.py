"""What both twins accept as model inputs and labels (deberta_core.validation's rules), with the same words: every
bad input is a ``bad_input`` row per twin; the Keras graph / XLA behaviour of the checks; the loss of a batch
whose labels are all ignored; and a property test that more padding never changes the valid positions' outputs.

Models are tiny and built once per twin and head (``Twin.model``); batches are 2 x 5 NumPy arrays."""

from __future__ import annotations

from typing import Callable, Dict, List, Tuple

import numpy as np
import pytest
import tensorflow as tf
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import deberta_tf
import deberta_torch
from conftest import ATOL_FP32, make_config, property_examples

B, S = 2, 5
# A tiny config with absolute positions (so position_ids and the length limit matter), 2 token types, 3 labels.
BASE = dict(variant="abs_only_types", num_labels=3, max_position_embeddings=16, hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0)


def config_for(**overrides):
    settings_ = {**BASE, **overrides}
    return make_config(settings_.pop("variant"), **settings_)


class Twin:
    """One framework's models (built once per head and config) and a call that takes NumPy arrays."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.label = {"torch": "torch", "keras": "Keras"}[name]
        self._models: Dict[Tuple, object] = {}

    def model(self, head: str = "DebertaModel", **overrides):
        key = (head, tuple(sorted(overrides.items())))
        if key not in self._models:
            torch.manual_seed(0)
            tf.random.set_seed(0)
            config = config_for(**overrides)
            if self.name == "torch":
                self._models[key] = getattr(deberta_torch, head)(config).eval()
            else:
                self._models[key] = getattr(deberta_tf, "TF" + head)(config)
        return self._models[key]

    def tensor(self, value):
        if self.name == "torch" and isinstance(value, np.ndarray):
            return torch.from_numpy(value)
        return value

    def __call__(self, model, **arrays):
        """The model's output for ``arrays`` (NumPy; anything else is passed as it is)."""
        if self.name == "torch":
            with torch.no_grad():
                return model(**{k: self.tensor(v) for k, v in arrays.items()})
        return model(arrays, training=False)


TWINS = {name: Twin(name) for name in ("torch", "keras")}


def batch(seed: int = 0) -> Dict[str, np.ndarray]:
    """2 x 5: the first row full, the second with 2 padded positions."""
    rng = np.random.default_rng(seed)
    mask = np.ones((B, S), np.int64)
    mask[1, 3:] = 0
    return {"input_ids": rng.integers(1, 120, (B, S)).astype(np.int64), "attention_mask": mask,
            "token_type_ids": rng.integers(0, 2, (B, S)).astype(np.int64)}


def with_(**changes) -> Callable[[], Dict[str, object]]:
    """The default batch with some arguments replaced (a callable: value -> array, or an array) or dropped (None)."""
    def build():
        arrays = batch()
        for name, change in changes.items():
            if change is None:
                arrays.pop(name, None)
            else:
                arrays[name] = change(arrays) if callable(change) else change
        return arrays
    return build


def ids_set(value):
    def change(arrays):
        ids = arrays["input_ids"].copy()
        ids[1, 2] = value
        return ids
    return change


# ---------------------------------------------------------------------------------------------------- model inputs
# (description, error, message fragment, head and config overrides, the arguments). The same words in both twins.
INPUT_CASES: List[Tuple[str, type, str, dict, Callable]] = [
    ("input_ids and inputs_embeds both given", ValueError, "pass either input_ids or inputs_embeds, not both", {},
     with_(inputs_embeds=np.zeros((B, S, 32), np.float32))),
    ("neither input_ids nor inputs_embeds", ValueError, "pass input_ids or inputs_embeds", {},
     with_(input_ids=None, token_type_ids=None)),
    ("input_ids of rank 1", ValueError, "input_ids must be [batch, sequence], got shape [5]", {},
     lambda: {"input_ids": batch()["input_ids"][0]}),
    ("float input_ids", ValueError, "input_ids must be token indices of dtype int32 or int64, got dtype float32", {},
     with_(input_ids=lambda a: a["input_ids"].astype(np.float32))),
    ("input_ids >= vocab_size", ValueError, "input_ids must be in [0, vocab_size=120); got values in [", {},
     with_(input_ids=ids_set(120))),
    ("negative input_ids", ValueError, "input_ids must be in [0, vocab_size=120); got values in [-1, ", {},
     with_(input_ids=ids_set(-1))),
    ("batch size 0", ValueError, "input_ids must hold at least one row of at least one token (b >= 1, s >= 1)", {},
     lambda: {k: v[:0] for k, v in batch().items()}),
    ("sequence length 0", ValueError, "got shape [2, 0]", {}, lambda: {k: v[:, :0] for k, v in batch().items()}),
    ("sequence longer than max_position_embeddings with absolute positions", ValueError,
     "sequence length 17 exceeds max_position_embeddings (16)", {},
     lambda: {"input_ids": np.ones((1, 17), np.int64)}),
    ("inputs_embeds of the wrong width", ValueError, "inputs_embeds must be [batch, sequence, embedding_size=32], "
     "got shape [2, 5, 7]", {}, with_(input_ids=None, inputs_embeds=np.zeros((B, S, 7), np.float32))),
    ("integer inputs_embeds", ValueError, "inputs_embeds must be floating (the word embeddings), got dtype int64", {},
     with_(input_ids=None, inputs_embeds=np.zeros((B, S, 32), np.int64))),
    ("attention_mask of shape [b, 1] (would broadcast)", ValueError,
     "attention_mask must be [b, s] (or [b, s, s], [b, 1, s], [b, 1, s, s], [b, 1, 1, s]) with b=2, s=5 (from "
     "input_ids); got shape [2, 1]", {}, with_(attention_mask=lambda a: a["attention_mask"][:, :1])),
    ("attention_mask one token longer than input_ids", ValueError, "got shape [2, 6]", {},
     with_(attention_mask=np.ones((B, S + 1), np.int64))),
    ("attention_mask of shape [s] (no batch axis)", ValueError, "attention_mask must be [b, s]", {},
     with_(attention_mask=np.ones((S,), np.int64))),
    ("attention_mask holding 2", ValueError, "attention_mask must be 0 (padding) or 1 (a token); got values in [0, 2]",
     {}, with_(attention_mask=lambda a: a["attention_mask"] * 2)),
    ("additive attention_mask of 0 / -inf", ValueError, "(an additive mask of 0 / -inf is not accepted)", {},
     with_(attention_mask=lambda a: np.where(a["attention_mask"] == 1, 0.0, -np.inf).astype(np.float32))),
    ("fractional float attention_mask", ValueError, "not all whole numbers", {},
     with_(attention_mask=lambda a: (a["attention_mask"] * 0.5).astype(np.float32))),
    ("string attention_mask", ValueError, "attention_mask must be bool, integer or floating, got dtype string", {},
     with_(attention_mask=lambda a: a["attention_mask"].astype(str))),
    ("token_type_ids >= type_vocab_size", ValueError, "token_type_ids must be in [0, type_vocab_size=2); got values "
     "in [0, 2]", {}, with_(token_type_ids=np.array([[0, 1, 0, 1, 2], [0, 0, 1, 1, 0]]))),
    ("token_type_ids of shape [1, s] (would broadcast)", ValueError, "token_type_ids must be [b, s] with b=2, s=5 "
     "(from input_ids); got shape [1, 5]", {}, with_(token_type_ids=lambda a: a["token_type_ids"][:1])),
    ("float token_type_ids", ValueError, "token_type_ids must be token type indices of dtype int32 or int64", {},
     with_(token_type_ids=lambda a: a["token_type_ids"].astype(np.float32))),
    ("position_ids >= max_position_embeddings", ValueError, "position_ids must be in [0, max_position_embeddings=16); "
     "got values in [0, 16]", {}, with_(position_ids=np.array([[0, 1, 2, 3, 16]], np.int64))),
    ("position_ids of shape [b, s + 1]", ValueError, "position_ids must be [b, s] (or [1, s])", {},
     with_(position_ids=np.zeros((B, S + 1), np.int64))),
]

# The dtype names differ where the frameworks name them differently (only the string mask: NumPy str -> tf string;
# torch has no string tensors, so the torch twin refuses the array itself).
TWIN_ONLY = {("string attention_mask", "torch")}


def twin_params(cases, twins=("torch", "keras")):
    params = []
    for description, error, fragment, overrides, build in cases:
        for name in twins:
            if (description, name) in TWIN_ONLY:
                continue
            label = TWINS[name].label
            params.append(pytest.param(name, overrides, build, id=f"{name}-{description}",
                                       marks=pytest.mark.bad_input(f"{description} ({label})", error, fragment)))
    return params


@pytest.mark.parametrize("twin,overrides,build", twin_params(INPUT_CASES))
def test_bad_model_inputs(twin, overrides, build, expect_bad_input):
    run = TWINS[twin]
    model = run.model("DebertaModel", **overrides)
    with expect_bad_input():
        run(model, **build())


# ---------------------------------------------------------------------------------------------------- labels
def labels_case(description, fragment, head, overrides, labels, error=ValueError):
    return (description, error, fragment, {"head": head, **overrides}, lambda: {**batch(), **labels})


SEQ, TOK, MLM, QA = ("DebertaForSequenceClassification", "DebertaForTokenClassification", "DebertaForMaskedLM",
                     "DebertaForQuestionAnswering")
LABEL_CASES = [
    labels_case("MaskedLM labels >= vocab_size", "labels must be in [0, vocab_size=120) or -100 (ignored); got values "
                "in [0, 120]", MLM, {}, {"labels": np.array([[120, -100, 0, 0, 0], [-100] * 5])}),
    labels_case("MaskedLM labels negative other than -100", "labels must be in [0, vocab_size=120) or -100 (ignored); "
                "got values in [-1, ", MLM, {}, {"labels": np.array([[-1, -100, 0, 0, 0], [-100] * 5])}),
    labels_case("MaskedLM labels of shape [b]", "labels must be [b, s] with b=2, s=5 (from the logits); got shape [2]",
                MLM, {}, {"labels": np.array([1, 2])}),
    labels_case("MaskedLM float labels", "labels must be integer class indices (or -100 to ignore a position), got "
                "dtype float32", MLM, {}, {"labels": np.ones((B, S), np.float32)}),
    labels_case("token classification labels >= num_labels", "labels must be in [0, num_labels=3) or -100 (ignored)",
                TOK, {}, {"labels": np.array([[0, 1, 2, 3, -100], [0] * 5])}),
    labels_case("sequence classification class label >= num_labels (problem_type unset)",
                "labels must be in [0, num_labels=3) or negative (ignored); got values in [0, 3]", SEQ, {},
                {"labels": np.array([0, 3])}),
    labels_case("single_label_classification label -5", "labels must be in [0, num_labels=3) or -100 (ignored); got "
                "values in [-5, ", SEQ, {"problem_type": "single_label_classification"}, {"labels": np.array([0, -5])}),
    labels_case("float class labels (would be truncated)", "float class labels are not truncated), got dtype float32",
                SEQ, {}, {"labels": np.array([0.0, 1.7], np.float32)}),
    labels_case("integer [b, num_labels] labels with problem_type unset (multi-hot read as soft targets)",
                "set problem_type='multi_label_classification' for 0/1 targets", SEQ, {},
                {"labels": np.array([[0, 1, 1], [1, 0, 0]])}),
    labels_case("float soft targets whose rows do not sum to 1", "each row a distribution (>= 0, summing to 1); got "
                "values in [0, 1], a row sum 1 away from 1", SEQ, {},
                {"labels": np.array([[0, 1, 1], [1, 0, 0]], np.float32)}),
    labels_case("multi-label targets outside [0, 1]", "labels must be in [0, 1] (multi-label targets); got values in "
                "[0, 2]", SEQ, {"problem_type": "multi_label_classification"},
                {"labels": np.array([[0, 2, 1], [1, 0, 0]], np.float32)}),
    labels_case("multi-label labels of shape [b]", "labels must be [b, n] with b=2, n=3", SEQ,
                {"problem_type": "multi_label_classification"}, {"labels": np.array([0, 1])}),
    labels_case("bool regression targets", "labels must be numbers (regression targets), got dtype bool", SEQ,
                {"num_labels": 1}, {"labels": np.array([True, False])}),
    labels_case("regression labels of shape [b, 2] with num_labels 1", "labels must be [b] (or [b, 1]) with b=2",
                SEQ, {"num_labels": 1}, {"labels": np.zeros((B, 2), np.float32)}),
    labels_case("negative start_positions", "start_positions must be a position >= 0 (one at or beyond the sequence "
                "length is ignored); got values in [-1, ", QA, {"num_labels": 2},
                {"start_positions": np.array([-1, 2]), "end_positions": np.array([3, 4])}),
    labels_case("float end_positions", "end_positions must be integer token positions, got dtype float32", QA,
                {"num_labels": 2}, {"start_positions": np.array([1, 2]), "end_positions": np.array([3., 4.], np.float32)}),
    labels_case("start_positions for a different batch size", "start_positions must be [b] (or [b, 1]) with b=2 (from "
                "the logits); got shape [3]", QA, {"num_labels": 2},
                {"start_positions": np.array([1, 2, 3]), "end_positions": np.array([3, 4])}),
]


@pytest.mark.parametrize("twin,overrides,build", twin_params(LABEL_CASES))
def test_bad_labels(twin, overrides, build, expect_bad_input):
    run = TWINS[twin]
    overrides = dict(overrides)
    model = run.model(overrides.pop("head"), **overrides)
    with expect_bad_input():
        run(model, **build())


def error_text(call) -> str:
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the message is what is compared
        return str(error)
    return "no error"


@pytest.mark.parametrize("case", [c for c in INPUT_CASES + LABEL_CASES
                                  if not any(c[0] == d for d, _ in TWIN_ONLY)], ids=lambda c: c[0])
def test_both_twins_say_the_same_words(case):
    """The torch message, whole, is in the Keras one (Keras adds which layer was called, around it)."""
    _, _, _, overrides, build = case
    overrides = dict(overrides)
    head = overrides.pop("head", "DebertaModel")
    said = {name: error_text(lambda: run(run.model(head, **overrides), **build())) for name, run in TWINS.items()}
    assert said["torch"] != "no error"
    assert said["torch"] in said["keras"], said


# ---------------------------------------------------------------------------------------------------- twin-only forms
@pytest.mark.bad_input("a plain Python list as input_ids (torch)", TypeError,
                       "input_ids must be a torch.Tensor, got list")
def test_torch_refuses_lists(expect_bad_input):
    model = TWINS["torch"].model()
    with expect_bad_input():
        model(input_ids=[[1, 2, 3]])


def test_keras_accepts_lists_like_the_reference():
    """Keras layers take array-likes (the reference's TF classes do too): a rectangular list is a valid batch, as
    a keyword, alone as the first argument, in an input dict or in an input list, with the same output."""
    model = TWINS["keras"].model()
    ids, mask = [[1, 5, 2], [1, 6, 2]], [[1, 1, 1], [1, 1, 0]]
    expected = model(input_ids=np.array(ids), attention_mask=np.array(mask))["last_hidden_state"].numpy()
    for out in (model(input_ids=ids, attention_mask=mask), model({"input_ids": ids, "attention_mask": mask}),
                model([np.array(ids), mask]), model(ids, attention_mask=mask)):
        np.testing.assert_array_equal(out["last_hidden_state"].numpy(), expected)
    assert model([[1, 2, 3]])["last_hidden_state"].shape == (1, 3, 32)


@pytest.mark.bad_input("a ragged nested list as input_ids (Keras)", ValueError,
                       "input_ids must be a tensor, an array or a rectangular nested list of numbers")
def test_keras_refuses_ragged_lists(expect_bad_input):
    model = TWINS["keras"].model()
    with expect_bad_input():
        model(input_ids=[[1, 2, 3], [1]])
    for first in ([[1, 2, 3], [1]], {"input_ids": [[1, 2, 3], [1]]}):  # the first-argument forms say the same
        with expect_bad_input():
            model(first)


# ---------------------------------------------------------------------------------------------------- Keras graphs
def keras_graph(model, jit_compile: bool, dynamic: bool):
    """The model's forward as a tf.function over (input_ids, attention_mask); with ``dynamic`` traced with unknown
    b and s, so the shape checks that compare dimensions become graph asserts; else retraced per shape."""
    spec = [tf.TensorSpec([None, None], tf.int64)] * 2 if dynamic else None

    @tf.function(jit_compile=jit_compile, input_signature=spec)
    def forward(input_ids, attention_mask):
        return model({"input_ids": input_ids, "attention_mask": attention_mask}, training=False)["last_hidden_state"]
    return forward


@pytest.mark.bad_input("input_ids >= vocab_size inside tf.function (Keras graph)", tf.errors.InvalidArgumentError,
                       "input_ids must be in [0, vocab_size=120)")
def test_keras_graph_checks_values(expect_bad_input):
    model = TWINS["keras"].model()
    data = batch()
    data.pop("token_type_ids")
    forward = keras_graph(model, jit_compile=False, dynamic=True)
    np.testing.assert_allclose(forward(data["input_ids"], data["attention_mask"]).numpy(),
                               model(data, training=False)["last_hidden_state"].numpy(), atol=ATOL_FP32)
    with expect_bad_input():
        forward(ids_set(120)(data), data["attention_mask"])


@pytest.mark.bad_input("attention_mask one token longer, shapes unknown when traced (Keras graph)",
                       tf.errors.InvalidArgumentError, "attention_mask must be [b, s] with b=?, s=? (from input_ids)")
def test_keras_graph_checks_dimensions_unknown_at_trace_time(expect_bad_input):
    model = TWINS["keras"].model()
    data = batch()
    forward = keras_graph(model, jit_compile=False, dynamic=True)
    with expect_bad_input():
        forward(data["input_ids"], np.ones((B, S + 1), np.int64))


@pytest.mark.bad_input("attention_mask of shape [b, 1] under XLA (jit_compile=True, refused when traced)",
                       ValueError, "attention_mask must be [b, s]")
def test_xla_keeps_the_trace_time_checks(expect_bad_input):
    """XLA compiles the model with its checks (it drops the value asserts, see deberta_core.validation) and gives
    the eager result; what the static shapes decide is still refused, when the function is traced."""
    model = TWINS["keras"].model()
    data = batch()
    data.pop("token_type_ids")
    forward = keras_graph(model, jit_compile=True, dynamic=False)
    np.testing.assert_allclose(forward(data["input_ids"], data["attention_mask"]).numpy(),
                               model(data, training=False)["last_hidden_state"].numpy(), atol=ATOL_FP32)
    with expect_bad_input():
        forward(data["input_ids"], data["attention_mask"][:, :1])


@pytest.mark.bad_input("input_ids >= vocab_size in a tf.data pipeline before an XLA model (validate_inputs)",
                       tf.errors.InvalidArgumentError, "input_ids must be in [0, vocab_size=120)")
def test_validate_inputs_in_a_tf_data_pipeline(expect_bad_input):
    """The documented way to keep the value checks under XLA: run them in the input pipeline."""
    from deberta_tf.utils import validate_inputs

    config = config_for()
    data = batch()

    def check(features):
        validate_inputs(config, features["input_ids"], features["attention_mask"], None, None, None)
        return features

    good = tf.data.Dataset.from_tensor_slices(data).batch(B).map(check)
    assert next(iter(good))["input_ids"].shape == (B, S)
    bad = tf.data.Dataset.from_tensor_slices({**data, "input_ids": ids_set(120)(data)}).batch(B).map(check)
    with expect_bad_input():
        next(iter(bad))


# ---------------------------------------------------------------------------------------------------- ignored labels
ALL_IGNORED = {
    MLM: ({}, {"labels": np.full((B, S), -100)}),
    TOK: ({}, {"labels": np.full((B, S), -100)}),
    SEQ: ({"problem_type": "single_label_classification"}, {"labels": np.array([-100, -100])}),
    "seq_unset": ({}, {"labels": np.array([-1, -100])}),
    QA: ({"num_labels": 2}, {"start_positions": np.array([S, 9]), "end_positions": np.array([S, S + 1])}),
}


def loss_and_grad_norm(twin: str, head: str, overrides: dict, labels: dict) -> Tuple[float, float]:
    run = TWINS[twin]
    model = run.model(head, **overrides)
    arrays = {**batch(), **labels}
    if twin == "torch":
        model.zero_grad()
        loss = model(**{k: torch.from_numpy(v) for k, v in arrays.items()}).loss
        loss.backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads, "no gradient reached the weights"
        return float(loss), float(sum(float(g.abs().sum()) for g in grads))
    with tf.GradientTape() as tape:
        loss = model(arrays, training=False)["loss"]
    grads = [g for g in tape.gradient(loss, model.trainable_variables) if g is not None]
    assert grads, "no gradient reached the weights"
    return float(tf.reshape(loss, [-1])[0]), float(sum(float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(g))))
                                                       for g in grads))


@pytest.mark.parametrize("case", sorted(ALL_IGNORED))
def test_all_ignored_labels_give_zero_loss_and_zero_gradient_in_both_twins(case):
    """The reference's PyTorch classes give nan here (0 / 0); both twins give 0 and leave the weights alone."""
    head = SEQ if case == "seq_unset" else case
    overrides, labels = ALL_IGNORED[case]
    for twin in TWINS:
        loss, grad = loss_and_grad_norm(twin, head, overrides, labels)
        assert loss == 0.0 and grad == 0.0, (twin, loss, grad)


# ---------------------------------------------------------------------------------------------------- padding
# The conftest profiles: "ci" derandomized (this count), HYPOTHESIS_PROFILE=long for a longer local search.
PROPERTY = settings(max_examples=property_examples(6))


def padded_outputs(twin: str, ids: np.ndarray, lengths, width: int) -> List[np.ndarray]:
    """Each row's hidden states at its valid positions, for the rows right-padded to ``width``."""
    run = TWINS[twin]
    model = run.model("DebertaModel", variant="rel_both")
    mask = (np.arange(width)[None, :] < np.asarray(lengths)[:, None]).astype(np.int64)
    padded = np.where(mask == 1, ids[:, :width], 0)
    out = run(model, input_ids=padded, attention_mask=mask)["last_hidden_state"]
    out = out.numpy() if hasattr(out, "numpy") else np.asarray(out)
    return [out[row, :n] for row, n in enumerate(lengths)]


@PROPERTY
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=3), extra=st.integers(1, 5),
       seed=st.integers(0, 2 ** 16), twin=st.sampled_from(sorted(TWINS)))
def test_more_padding_never_changes_the_valid_outputs(lengths, extra, seed, twin):
    width = max(lengths)
    ids = np.random.default_rng(seed).integers(1, 120, (len(lengths), width + extra)).astype(np.int64)
    tight = padded_outputs(twin, ids, lengths, width)
    loose = padded_outputs(twin, ids, lengths, width + extra)
    for a, b in zip(tight, loose):
        np.testing.assert_allclose(a, b, atol=ATOL_FP32)


@pytest.mark.parametrize("twin", [
    pytest.param(name, id=name, marks=pytest.mark.bad_input(
        f"a head with a pooler and pooler_hidden_size != hidden_size ({TWINS[name].label})", ValueError,
        "pooler_hidden_size (16) must equal hidden_size (32) for a head with a pooler"))
    for name in ("torch", "keras")])
def test_a_pooler_narrower_than_the_hidden_states_is_refused(twin, expect_bad_input):
    """The reference's torch pooler fails at the first forward; its TF one would silently project 32 -> 16."""
    config = make_config(hidden_size=32, num_attention_heads=4, pooler_hidden_size=16)
    with expect_bad_input():
        if twin == "torch":
            deberta_torch.DebertaForSequenceClassification(config)
        else:
            deberta_tf.TFDebertaForSequenceClassification(config)
    (deberta_torch.DebertaModel if twin == "torch" else deberta_tf.TFDebertaModel)(config)  # no pooler: fine
