"""Masked-LM batches as a tf.data pipeline: a thin adapter over deberta_core.mlm.MLMBatches (twin of
deberta_torch/mlm.py)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from deberta_core.mlm import MLMBatches


def mlm_dataset(batches: MLMBatches) -> tf.data.Dataset:
    """``batches`` as a tf.data.Dataset of int32 tensors ``input_ids``, ``attention_mask``, ``labels`` (the tokenizer's
    TF dtype). Each pass over the dataset (each Keras epoch) runs the next epoch of ``batches``, re-shuffled and
    re-masked; the generator runs in this process, so the epoch counter is ``batches.epoch``.

    Args:
        batches: the masked-LM batches (a ``deberta_core.mlm.MLMBatches``).

    Returns:
        A dataset of ``len(batches)`` dicts of int32 [b, s] tensors: each array of ``batches.sequences`` and
        ``labels`` (-100 where nothing is predicted); the last batch is smaller unless ``batches.drop_last``.

    Raises:
        TypeError: ``batches`` is not an ``MLMBatches``.
    """
    if not isinstance(batches, MLMBatches):
        raise TypeError(f"expected a deberta_core.mlm.MLMBatches, got {type(batches).__name__}")
    names = [*batches.sequences, "labels"]

    def generate():
        for batch in batches:
            yield {name: batch[name].astype(np.int32) for name in names}

    signature = {name: tf.TensorSpec((None, batches.sequences["input_ids"].shape[1]), tf.int32) for name in names}
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(len(batches)))


__all__ = ["mlm_dataset"]
