"""The Keras twin's gather-free relative terms: the TensorFlow relative shift equals the core's NumPy reference
for static and dynamic shapes, no gather runs in the attention, and eager, graph (dynamic shapes) and XLA agree
with and without clamping."""

import numpy as np
import pytest
import tensorflow as tf

import deberta_tf
from deberta_core import relative_position as rp
from deberta_tf import kernels

from conftest import ATOL_FP32, make_config, make_inputs


@pytest.mark.parametrize("length, span", [(1, 4), (5, 2), (7, 7), (9, 16), (13, 3)])
def test_shift_matches_the_numpy_reference_static_and_dynamic(length, span):
    a = rp.attention_span(length, length, span)
    table = np.arange(2 * 3 * length * 2 * a, dtype=np.float32).reshape(2, 3, length, 2 * a)
    expected_c2p = rp.c2p_by_shift(table, length)
    expected_p2c = rp.relative_shift(rp.extend_span(table, length), length)

    def shifted(t, seq_len):
        wide = kernels.extend_span(t, seq_len)
        return kernels.relative_shift(wide, seq_len - 1), kernels.relative_shift(wide, seq_len)

    static = shifted(tf.constant(table), length)
    dynamic_fn = tf.function(lambda t: shifted(t, tf.shape(t)[2]),
                             input_signature=[tf.TensorSpec([None, None, None, None], tf.float32)])
    for c2p, p2c in (static, dynamic_fn(tf.constant(table))):
        np.testing.assert_array_equal(c2p.numpy(), expected_c2p)
        np.testing.assert_array_equal(p2c.numpy(), expected_p2c)


def test_attention_runs_no_gather():
    config = make_config("rel_both", max_relative_positions=4)  # clamped at the length below
    model = deberta_tf.TFDebertaModel(config)
    inputs = {k: tf.constant(v) for k, v in make_inputs(config, lengths=(9, 6)).items()}
    model(inputs)
    layer = model.get_base_model().encoder.layer[0].attention.self
    hidden = tf.random.normal([2, 9, config.hidden_size])
    mask = tf.ones([2, 1, 9, 9], tf.bool)
    rel = model.get_base_model().encoder.get_rel_embedding()
    positions = kernels.build_relative_positions(9, config.max_relative_span)
    graph = tf.function(lambda h: layer(h, mask, relative_positions=positions, rel_embeddings=rel)[0])
    ops = {op.type for op in graph.get_concrete_function(hidden).graph.get_operations()}
    assert not {op for op in ops if "Gather" in op}, ops


@pytest.mark.parametrize("variant, overrides, lengths", [
    ("rel_both", {}, (11, 7, 3)),  # no clamping
    ("rel_both", {"max_relative_positions": 5}, (11, 7, 3)),  # clamped c2p and p2c
    ("rel_c2p_clamp", {}, (13, 13)),  # c2p only, clamped, no padding
    ("embproj_abs", {"max_relative_positions": 3}, (12, 2)),  # p2c only, clamped
])
def test_eager_graph_and_xla_agree(variant, overrides, lengths):
    config = make_config(variant, **overrides)
    model = deberta_tf.TFDebertaModel(config)
    inputs = {k: tf.constant(v) for k, v in make_inputs(config, lengths=lengths).items()}
    eager = model(inputs)["last_hidden_state"].numpy()
    spec = {k: tf.TensorSpec([None, None], v.dtype) for k, v in inputs.items()}
    graph = tf.function(lambda x: model(x)["last_hidden_state"], input_signature=[spec])(inputs).numpy()
    xla = tf.function(lambda x: model(x)["last_hidden_state"], jit_compile=True)(inputs).numpy()
    np.testing.assert_allclose(graph, eager, atol=ATOL_FP32)
    np.testing.assert_allclose(xla, eager, atol=ATOL_FP32)
