"""The activation functions named in deberta_core.config.ACTIVATIONS, with the reference's definitions."""

from __future__ import annotations

import tensorflow as tf


def quick_gelu(x: tf.Tensor) -> tf.Tensor:
    return x * tf.sigmoid(tf.cast(1.702, x.dtype) * x)


def gelu(x: tf.Tensor) -> tf.Tensor:
    return tf.nn.gelu(x, approximate=False)


def gelu_tanh(x: tf.Tensor) -> tf.Tensor:
    return tf.nn.gelu(x, approximate=True)


def mish(x: tf.Tensor) -> tf.Tensor:
    return x * tf.tanh(tf.nn.softplus(x))


def linear(x: tf.Tensor) -> tf.Tensor:
    return x


ACT2FN = {
    "gelu": gelu,
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "gelu_fast": gelu_tanh,
    "quick_gelu": quick_gelu,
    "relu": tf.nn.relu,
    "tanh": tf.tanh,
    "sigmoid": tf.sigmoid,
    "silu": tf.nn.silu,
    "swish": tf.nn.silu,
    "mish": mish,
    "linear": linear,
}


def get_activation(name: str):
    if name not in ACT2FN:
        raise ValueError(f"activation {name!r} is not known; expected one of {sorted(ACT2FN)}")
    return ACT2FN[name]
