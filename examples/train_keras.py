"""Fine-tune DeBERTa for sequence classification with Keras `model.fit`.

One device:       python -m examples.train_keras --epochs 2
Mirrored:         python -m examples.train_keras --replicas 2     (tf.distribute.MirroredStrategy over 2 GPUs,
                  or 2 logical CPU devices when there are fewer GPUs)
Multi-worker:     set TF_CONFIG on every worker (cluster + task, see the tf.distribute docs) and run the same
                  command on each: the script then uses tf.distribute.MultiWorkerMirroredStrategy; --batch-size
                  stays the global batch size.
XLA:              --compile (jit_compile=True; batches are padded to a multiple of 16 tokens to bound retracing)

Same flags as examples/train_torch.py (see examples/common.py). The model computes its own loss from the
`labels` in each batch (compile() has no loss), the learning rate warms up then decays linearly, accuracy is
measured on the test file after every epoch, and the result is written with save_pretrained (tf_model.h5 +
config.json) plus the tokenizer files, a resumable `checkpoint/model.keras` (weights + optimizer state) and
metrics.json.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from typing import List, Optional

import numpy as np

from deberta_core.console import quiet_startup

from . import common

CHECKPOINT_DIR = "checkpoint"
XLA_PAD_MULTIPLE = 16


def make_strategy(replicas: Optional[int]):
    import tensorflow as tf

    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if not replicas or replicas == 1:
        return tf.distribute.get_strategy()
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) >= replicas:
        return tf.distribute.MirroredStrategy([f"/gpu:{i}" for i in range(replicas)])
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
    return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(replicas)])


def make_dataset(data: common.Dataset, batch_size: int, pad_id: int, shuffle: bool, seed: int, pad_multiple: int):
    """tf.data with dynamic padding: each batch is padded to its longest row (rounded up to pad_multiple)."""
    import tensorflow as tf

    order = np.arange(len(data))

    def batches():
        indices = np.random.default_rng(seed + batches.epoch).permutation(order) if shuffle else order
        batches.epoch += 1
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            batch = common.pad_batch([data.input_ids[i] for i in chunk], [data.token_type_ids[i] for i in chunk], pad_id)
            length = batch["input_ids"].shape[1]
            target = -(-length // pad_multiple) * pad_multiple
            if target != length:
                batch = {k: np.pad(v, ((0, 0), (0, target - length)), constant_values=pad_id if k == "input_ids" else 0)
                         for k, v in batch.items()}
            batch["labels"] = data.labels[chunk]
            yield batch

    batches.epoch = 0
    spec = {name: tf.TensorSpec((None, None), tf.int64) for name in ("input_ids", "attention_mask", "token_type_ids")}
    spec["labels"] = tf.TensorSpec((None,), tf.int64)
    return tf.data.Dataset.from_generator(batches, output_signature=spec).prefetch(2)


def main(argv: Optional[List[str]] = None) -> dict:
    args = common.build_arg_parser("keras").parse_args(argv)
    quiet_startup(args.verbose)
    common.validate_args(args)
    common.seed_everything(args.seed)
    import keras
    import tensorflow as tf

    from deberta_tf import TFDebertaForSequenceClassification

    keras.utils.set_random_seed(args.seed)
    warmup_linear_decay = _warmup_linear_decay_class()  # registered before a resumed model is deserialised
    strategy = make_strategy(args.replicas)
    tokenizer = common.load_tokenizer(args)
    id2label, label2id = common.label_maps(args.train_file, args.label_column)
    train = common.load_split(args.train_file, tokenizer, label2id, args, args.max_train_samples)
    test = common.load_split(args.test_file, tokenizer, label2id, args, args.max_eval_samples)
    pad_multiple = XLA_PAD_MULTIPLE if args.compile else 1
    train_ds = make_dataset(train, args.batch_size, tokenizer.pad_token_id, True, args.seed, pad_multiple)
    test_ds = make_dataset(test, args.batch_size, tokenizer.pad_token_id, False, args.seed, pad_multiple)

    steps = common.total_steps(len(train), args.batch_size, args.epochs, args.max_steps)
    warmup = int(steps * args.warmup_ratio)
    steps_per_epoch = -(-len(train) // args.batch_size)
    if args.max_steps:
        steps_per_epoch = min(steps_per_epoch, args.max_steps)
    dtype = {"no": None, "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}[args.mixed_precision]
    checkpoint = os.path.join(args.output_dir, CHECKPOINT_DIR)
    state_path = os.path.join(checkpoint, "trainer_state.json")
    initial_epoch = 0

    with strategy.scope():
        if args.resume:
            if not os.path.isfile(os.path.join(checkpoint, "model.keras")):
                raise SystemExit(f"--resume: no checkpoint at {checkpoint}")
            model = keras.models.load_model(os.path.join(checkpoint, "model.keras"))
            with open(state_path, encoding="utf-8") as handle:
                initial_epoch = json.load(handle)["epoch"]
        else:
            config = common.make_config(args, id2label)
            if config is None:
                from_pt = not os.path.isfile(os.path.join(args.model, "tf_model.h5"))
                model = TFDebertaForSequenceClassification.from_pretrained(args.model, from_pt=from_pt, dtype=dtype,
                                                                           id2label=id2label)
            else:
                model = TFDebertaForSequenceClassification(config, dtype=dtype)
            schedule = warmup_linear_decay(args.learning_rate, steps, warmup)
            optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=args.weight_decay,
                                               global_clipnorm=1.0)
            optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "LayerNorm"])
            model.compile(optimizer=optimizer, jit_compile=args.compile)

    history = []

    class EvaluateAndCheckpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            features = test_ds.map(lambda b: {k: v for k, v in b.items() if k != "labels"})
            logits = self.model.predict(features, steps=-(-len(test) // args.batch_size), verbose=0)["logits"]
            accuracy = float(np.mean(np.argmax(logits, -1) == test.labels))
            history.append({"epoch": epoch + 1, "train_loss": float(logs["loss"]) if logs else None,
                            "eval_accuracy": accuracy})
            print(f"epoch {epoch + 1}: train loss {history[-1]['train_loss']}, eval accuracy {accuracy:.4f}", flush=True)
            os.makedirs(checkpoint, exist_ok=True)
            self.model.save(os.path.join(checkpoint, "model.keras"))
            with open(state_path, "w", encoding="utf-8") as handle:
                json.dump({"epoch": epoch + 1}, handle)

    started = time.time()
    model.fit(train_ds.repeat(), epochs=args.epochs, initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
              callbacks=[EvaluateAndCheckpoint()], verbose=2 if args.quiet else 1, shuffle=False)
    metrics = {
        "framework": "keras",
        "replicas": strategy.num_replicas_in_sync,
        "steps": int(model.optimizer.iterations.numpy()),
        "eval_accuracy": history[-1]["eval_accuracy"] if history else None,
        "majority_baseline": common.majority_baseline(test.labels),
        "history": history,
        "seconds": time.time() - started,
    }
    model.save_pretrained(args.output_dir)
    tokenizer.save_pretrained(args.output_dir)
    common.write_metrics(os.path.join(args.output_dir, "metrics.json"), metrics)
    return metrics


@functools.lru_cache(maxsize=None)
def _warmup_linear_decay_class():
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="deberta_examples")
    class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
        """common.lr_multiplier in Keras ops: linear warmup, then linear decay to 0."""

        def __init__(self, learning_rate: float, total_steps: int, warmup_steps: int) -> None:
            self.learning_rate = learning_rate
            self.total_steps = total_steps
            self.warmup_steps = warmup_steps

        def __call__(self, step):
            step = ops.cast(step, "float32")
            warmup = ops.cast(max(1, self.warmup_steps), "float32")
            decay = ops.cast(max(1, self.total_steps - self.warmup_steps), "float32")
            up = step / warmup
            down = ops.maximum(0.0, (self.total_steps - step) / decay)
            return self.learning_rate * ops.where(step < self.warmup_steps, up, down)

        def get_config(self):
            return {"learning_rate": self.learning_rate, "total_steps": self.total_steps,
                    "warmup_steps": self.warmup_steps}

    return WarmupLinearDecay


if __name__ == "__main__":
    main(sys.argv[1:])
