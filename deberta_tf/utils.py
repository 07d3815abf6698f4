"""Keras/TensorFlow utilities of the twin, the ones torch has built in: shapes, initialisers, the Embedding layer,
the reference's input forms, activation recomputation, and F.cross_entropy / F.mse_loss twins. The layer files
import them, so that they read like their torch twins."""

from __future__ import annotations

import functools
import inspect
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import keras
import numpy as np
import tensorflow as tf

from deberta_core import DebertaConfig
from deberta_core.outputs import IGNORE_INDEX
from deberta_core.validation import MODEL_INPUTS, Checks, TensorInfo, ValueCheck, check_labels, check_model_inputs


# ---------------------------------------------------------------------------------------------------- shapes and variables
def shape_list(tensor: tf.Tensor) -> List[Union[int, tf.Tensor]]:
    """Static dimensions where known, dynamic (scalar tensors) where not: the shape to reshape with."""
    static = tensor.shape.as_list()
    dynamic = tf.shape(tensor)
    return [dynamic[i] if dim is None else dim for i, dim in enumerate(static)]


def initializer(config: DebertaConfig) -> keras.initializers.Initializer:
    """N(0, initializer_range), the reference's init for every Dense kernel and embedding table."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=config.initializer_range)


def resize_variable(layer: keras.layers.Layer, attribute: str, new_rows: int, initializer) -> None:
    """Replace ``layer.<attribute>`` (a built variable, rows first) by one with ``new_rows`` rows: kept rows are
    copied, new ones drawn from ``initializer``. The old variable is untracked, as Keras' own quantization does
    when it swaps a layer's kernel. Optimizer slots built for the old variable do not follow: compile() after."""
    old = getattr(layer, attribute)
    keep = min(int(old.shape[0]), new_rows)
    name = old.name.split("/")[-1].split(":")[0]
    locked = layer._tracker.locked
    layer._tracker.unlock()
    layer._untrack_variable(old)
    new = layer.add_weight(shape=(new_rows,) + tuple(old.shape[1:]), name=name, initializer=initializer,
                           dtype=old.dtype)
    setattr(layer, attribute, new)
    if locked:
        layer._tracker.lock()
    new[:keep].assign(old[:keep])


class Embedding(keras.layers.Layer):
    """A lookup table ``weight`` [num_embeddings, embedding_dim] (nn.Embedding's twin).

    ``weight_name`` is the Keras variable name: the reference calls the word table ``weight`` and the others
    ``embeddings``.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, *, weight_name: str = "embeddings",
                 embeddings_initializer=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.weight_name = weight_name
        self.embeddings_initializer = embeddings_initializer or "random_normal"

    def build(self, input_shape=None) -> None:
        self.weight = self.add_weight(
            shape=(self.num_embeddings, self.embedding_dim), name=self.weight_name,
            initializer=self.embeddings_initializer,
        )
        self.built = True

    def call(self, ids: tf.Tensor) -> tf.Tensor:
        return tf.gather(self.weight, ids)  # [.., embedding_dim]

    def resize(self, new_num_embeddings: int) -> None:
        """Grow or shrink the table in place (nn.Embedding has no such method; torch swaps the module)."""
        resize_variable(self, "weight", new_num_embeddings, self.embeddings_initializer)
        self.num_embeddings = new_num_embeddings


# ---------------------------------------------------------------------------------------------------- checks
def tensor_info(name: str, value: tf.Tensor) -> TensorInfo:
    """The rules' view of a tensor: its static shape (None where a traced graph does not know it) and dtype."""
    shape = value.shape
    return TensorInfo(None if shape.rank is None else tuple(shape.as_list()), value.dtype.name)


def value_stats(tensor: tf.Tensor, check: ValueCheck) -> tf.Tensor:
    """[smallest, largest, off] of ``tensor`` for ``check`` (see deberta_core.validation.ValueCheck), float64."""
    values = tensor
    if check.ignore is not None or check.ignore_negative:
        kept = values >= 0 if check.ignore_negative else tf.not_equal(values, tf.cast(check.ignore, values.dtype))
        values = tf.where(kept, values, tf.cast(check.low, values.dtype))
    smallest, largest = tf.reduce_min(values), tf.reduce_max(values)
    if check.whole:
        off = tf.reduce_max(tf.abs(values - tf.round(values)))
    elif check.distribution:
        off = tf.reduce_max(tf.abs(tf.reduce_sum(tf.cast(values, tf.float32), axis=-1) - 1))
    else:
        off = tf.zeros((), tf.float64)
    return tf.stack([tf.cast(smallest, tf.float64), tf.cast(largest, tf.float64), tf.cast(off, tf.float64)])


_RELATIONS = {"==": tf.equal, ">=": tf.greater_equal, "<=": tf.less_equal}


def run_checks(checks: Checks, tensors: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Eager: raise ValueError for the first value check that fails (one host transfer for all of them).
    In a graph: one ``tf.debugging.Assert`` per check, raising InvalidArgumentError with the same words when
    the graph runs; the tensors come back as identities that wait for the asserts, so nothing computed from
    them runs before the checks. XLA (jit_compile=True) drops Assert ops: there only what was decided at trace
    time holds."""
    if tf.executing_eagerly():
        if checks.values:
            stats = tf.stack([value_stats(tensors[name], check) for name, check in checks.values]).numpy().tolist()
            for (_, check), (smallest, largest, off) in zip(checks.values, stats):
                if not check.holds(smallest, largest, off):
                    raise ValueError(check.message(smallest, largest, off))
        return tensors
    asserts = []
    for dim in checks.dims:
        got = tf.shape(tensors[dim.name])
        expected = dim.expected if isinstance(dim.expected, int) else tf.shape(tensors[dim.expected[0]])[dim.expected[1]]
        asserts.append(tf.debugging.Assert(_RELATIONS[dim.relation](got[dim.axis], expected),
                                           [f"{dim.message}; got shape", got]))
    for name, check in checks.values:
        stats = value_stats(tensors[name], check)
        asserts.append(tf.debugging.Assert(check.holds(stats[0], stats[1], stats[2]),
                                           [f"{check.rule()}; got [smallest, largest, off] =", stats]))
    if not asserts:
        return tensors
    with tf.control_dependencies(asserts):
        return {name: tf.identity(value) for name, value in tensors.items()}


def validate_inputs(config: DebertaConfig, input_ids, attention_mask, token_type_ids, position_ids,
                    inputs_embeds) -> Tuple[Optional[tf.Tensor], ...]:
    """Check TFDebertaModel's inputs against deberta_core.validation's rules; return them, checked (as tensors;
    in a graph, identities that wait for the checks). Also usable outside a compiled function, e.g. in a tf.data
    map before an XLA-compiled fit() (see run_checks)."""
    tensors = {name: tf.convert_to_tensor(value) for name, value in (
        ("input_ids", input_ids), ("attention_mask", attention_mask), ("token_type_ids", token_type_ids),
        ("position_ids", position_ids), ("inputs_embeds", inputs_embeds)) if value is not None}
    checks = check_model_inputs(config, {name: tensor_info(name, value) for name, value in tensors.items()})
    tensors = run_checks(checks, tensors)
    return tuple(tensors.get(name) for name in MODEL_INPUTS)


def validate_labels(task: str, logits: tf.Tensor, problem_type: Optional[str] = None,
                    **labels) -> Tuple[Optional[str], Dict[str, tf.Tensor]]:
    """Check a head's labels against deberta_core.validation's rules; return the loss to compute (sequence
    classification's problem, else None) and the labels, checked (by name, as tensors; in a graph, identities
    that wait for the checks)."""
    labels = {name: tf.convert_to_tensor(value) for name, value in labels.items()}
    checks = check_labels(task, tensor_info("logits", logits),
                          {name: tensor_info(name, value) for name, value in labels.items()}, problem_type)
    checked = run_checks(checks, {"logits": logits, **labels})
    return checks.problem, {name: checked[name] for name in labels}


# Call arguments that are flags, not tensors (never converted to tensors).
_FLAG_ARGS = ("output_attentions", "output_hidden_states", "return_dict")


class SublayerContainer(keras.layers.Layer):
    """A layer whose weights all live in its sublayers: it is built once its sublayers are, on their first call
    (Keras' default build() would otherwise trace call() on symbolic inputs first). Torch modules need no such
    base: they create their parameters in __init__."""

    def build(self, input_shape=None) -> None:
        self.built = True


def is_input_list(value) -> bool:
    """A list/tuple of inputs in the documented order (its first element has a shape), as opposed to one input
    written as a nested list of numbers."""
    return isinstance(value, (list, tuple)) and bool(value) and not np.isscalar(value[0]) and hasattr(value[0], "shape")


def to_tensor(name: str, value) -> tf.Tensor:
    """``value`` (an array or a rectangular nested list of numbers) as a tensor; the error names input ``name``."""
    try:
        return tf.convert_to_tensor(value)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{name} must be a tensor, an array or a rectangular nested list of numbers; "
                          f"{type(value).__name__} {name} could not be converted: {error}") from None


def lists_to_tensors(inputs, names: Sequence[str]):
    """The first argument of a model call with its nested Python lists made tensors (to_tensor): the argument
    itself (``names[0]``), each value of an input dict, or each element of an input list (``names`` in order).
    Anything else is returned as it is, for unpack_inputs to check."""
    def convert(name: str, value):
        return to_tensor(name, value) if isinstance(value, (list, tuple)) and not is_input_list(value) else value

    if isinstance(inputs, Mapping):
        return {key: convert(key, value) for key, value in inputs.items()}
    if is_input_list(inputs):
        return type(inputs)(convert(names[i] if i < len(names) else f"input {i}", value)
                            for i, value in enumerate(inputs))
    return convert(names[0], inputs)


def unpack_inputs(call):
    """Accept the reference's input forms on ``call``: keyword arguments; a dict of them as the first argument;
    a list/tuple of tensors in the documented order (the order of ``call``'s parameters); or one tensor of
    input_ids. NumPy arrays and nested lists become tensors."""
    signature = inspect.signature(call)
    names = [name for name in signature.parameters if name not in ("self", "training")]

    @functools.wraps(call)
    def wrapper(self, *args, **kwargs):
        values = signature.bind(self, *args, **kwargs).arguments
        values.pop("self")
        first = values.get(names[0])
        if isinstance(first, Mapping):
            unknown = [key for key in first if key not in names]
            if unknown:
                raise ValueError(f"unknown input name(s) {unknown} for {type(self).__name__}; expected some of {names}")
            twice = [key for key in first if key != names[0] and values.get(key) is not None]
            if twice:
                raise ValueError(f"input(s) {twice} given both in the input dict and as keyword arguments")
            values = {**values, names[0]: None, **first}
        elif is_input_list(first):
            if len(first) > len(names):
                raise ValueError(
                    f"{type(self).__name__} takes at most {len(names)} inputs in the order {names}, got {len(first)}"
                )
            twice = [name for name in names[1:len(first)] if values.get(name) is not None]
            if twice:
                raise ValueError(f"input(s) {twice} given both in the input list and as keyword arguments")
            values = {**values, **dict(zip(names, first))}
        for name, value in values.items():
            if name not in _FLAG_ARGS and name != "training" and value is not None and not isinstance(value, tf.Tensor):
                values[name] = to_tensor(name, value)
        return call(self, **values)

    wrapper.input_names = tuple(names)  # read by the Keras model's __call__ (lists_to_tensors)
    return wrapper


# ---------------------------------------------------------------------------------------------------- recomputation
def checkpoint(function, *args, seed_generators=()):
    """torch.utils.checkpoint.checkpoint's twin: run ``function(*args)`` keeping no activations, recompute it in
    the backward pass (``tf.recompute_grad``). Floating tensors are the differentiable inputs; the other
    arguments (masks, indices, flags) are closed over. ``None`` outputs are passed through.

    Like torch (which restores the RNG state), the recomputation replays the forward's dropout masks: the
    ``seed_generators`` (Keras dropout state) are reset to their forward values before it.
    """
    positions = [i for i, a in enumerate(args) if isinstance(a, tf.Tensor) and a.dtype.is_floating]
    present = []  # which outputs are tensors (not None), recorded by the forward run
    forward_seeds = []  # seed states at the start of the forward run

    def inner(*tensors):
        if not forward_seeds:
            forward_seeds.extend(tf.identity(g.state.value) for g in seed_generators)
        else:
            for generator, state in zip(seed_generators, forward_seeds):
                generator.state.assign(state)
        full = list(args)
        for i, tensor in zip(positions, tensors):
            full[i] = tensor
        outputs = function(*full)
        present[:] = [out is not None for out in outputs]
        return tuple(out for out in outputs if out is not None)

    kept = iter(tf.recompute_grad(inner)(*[args[i] for i in positions]))
    return tuple(next(kept) if is_tensor else None for is_tensor in present)


def seed_generators(layer) -> list:
    """The dropout seed generators of ``layer`` and its sublayers."""
    return [sub.seed_generator for sub in layer._flatten_layers() if getattr(sub, "seed_generator", None) is not None]


def call_layer(layer_module, hidden_states, attention_mask, relative_positions, rel_embeddings, output_attentions,
               training=False):
    """A DebertaLayer call with torch's positional order (Keras takes only tensors positionally)."""
    return layer_module(
        hidden_states, attention_mask, relative_positions=relative_positions, rel_embeddings=rel_embeddings,
        output_attentions=output_attentions, training=training,
    )


# ---------------------------------------------------------------------------------------------------- losses
def cross_entropy(logits: tf.Tensor, labels: tf.Tensor, ignore_index=IGNORE_INDEX) -> tf.Tensor:
    """F.cross_entropy's twin in float32: logits [n, c], labels [n]; mean over labels != ignore_index, and 0 (with
    zero gradient) when every label is ignored (as the torch twin's)."""
    labels = tf.cast(labels, tf.int64)
    valid = tf.not_equal(labels, tf.cast(ignore_index, tf.int64))
    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.where(valid, labels, tf.zeros_like(labels)), logits=tf.cast(logits, tf.float32)
    )  # [n]
    per_example = tf.where(valid, per_example, 0.0)
    return tf.math.divide_no_nan(tf.reduce_sum(per_example), tf.reduce_sum(tf.cast(valid, tf.float32)))


def mse_loss(predictions: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.square(tf.cast(predictions, tf.float32) - tf.cast(targets, tf.float32)))


def restart_lora_factors_after_load(layer) -> None:
    """Keras' ``Dense.load_own_variables`` loads the merged kernel and zeroes both LoRA factors, where neither gets
    a gradient again; after it, draw A afresh (B stays zero, so the outputs are those saved), as enable_lora does."""
    load_own_variables = layer.load_own_variables

    def load_then_restart(store):
        load_own_variables(store)
        layer.lora_kernel_a.assign(keras.initializers.HeUniform()(layer.lora_kernel_a.shape))

    layer.load_own_variables = load_then_restart
