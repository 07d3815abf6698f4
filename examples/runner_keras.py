"""The Keras runner: trains and evaluates any `common.Task` with `model.fit`.

One device by default; --replicas N: tf.distribute.MirroredStrategy over N GPUs, or N logical CPU devices when
there are fewer GPUs; TF_CONFIG set: MultiWorkerMirroredStrategy (--batch-size stays the global batch size).
The model computes its own loss from the label keys of each batch (compile() has no loss); AdamW without decay
on biases/LayerNorm, linear warmup then decay, global gradient clipping at 1.0, optional mixed precision and
jit_compile (--compile; batches then padded to a multiple of 16 tokens to bound retracing). After every epoch:
evaluation and a resumable checkpoint/model.keras (weights + optimizer state). At the end: save_pretrained
(tf_model.h5 + config.json), the tokenizer and metrics.json in --output-dir, and one RESULT line.
With --eval-only: the evaluation of --model only.
"""

from __future__ import annotations

import functools
import json
import os
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

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


def make_train_dataset(task: common.Task, batch_size: int, seed: int, first_epoch: int, pad_multiple: int):
    """tf.data of shuffled training batches (model inputs and label keys), padded per batch by task.collate;
    a new permutation each pass (seeded by seed + epoch)."""
    import tensorflow as tf

    keys = (*common.MODEL_INPUTS, *task.label_names)
    sample = task.collate(task.train[:1])
    spec = {k: tf.TensorSpec((None,) * sample[k].ndim, tf.int64) for k in keys if k in sample}

    def batches():
        order = np.random.default_rng(seed + batches.epoch).permutation(len(task.train))
        batches.epoch += 1
        for start in range(0, len(order), batch_size):
            batch = task.collate([task.train[i] for i in order[start:start + batch_size]], pad_multiple)
            yield {k: batch[k] for k in spec}

    batches.epoch = first_epoch
    return tf.data.Dataset.from_generator(batches, output_signature=spec).prefetch(2)


def load_model(task: common.Task, args, checkpoint: str, dtype: Optional[str]):
    """--resume: checkpoint/model.keras (with its optimizer); a folder: its weights (tf_model.h5, else torch's);
    a preset: a fresh model."""
    import keras

    import deberta_tf

    cls = getattr(deberta_tf, "TF" + task.model_class)
    if args.resume:
        path = os.path.join(checkpoint, "model.keras")
        if not os.path.isfile(path):
            raise SystemExit(f"--resume: no checkpoint at {checkpoint}")
        return keras.models.load_model(path)
    config = common.make_config(args, task.config_overrides)
    if config is not None:
        return cls(config, dtype=dtype)
    from_pt = "tf_h5" not in common.checkpoint_formats(args.model)
    # --eval-only keeps the checkpoint's own head (labels); training sets the task's (e.g. id2label of the data).
    return cls.from_pretrained(args.model, from_pt=from_pt, dtype=dtype,
                               **({} if args.eval_only else task.config_overrides))


def make_evaluate(model, task: common.Task, batch_size: int, jit_compile: bool):
    import tensorflow as tf

    @tf.function(reduce_retracing=True, jit_compile=jit_compile)
    def predict(inputs):
        outputs = model(inputs, training=False)
        return {name: outputs[name] for name in task.output_names}

    def evaluate() -> Tuple[Dict[str, float], List[Any]]:
        """(metrics, one prediction record per eval row)."""
        pieces = []
        pad_multiple = XLA_PAD_MULTIPLE if jit_compile else 1
        for positions, batch in common.predict_batches(task, batch_size, pad_to_multiple_of=pad_multiple):
            outputs = predict({k: tf.constant(batch[k]) for k in common.MODEL_INPUTS if k in batch})
            pieces.append((positions, task.predictions(batch, {k: np.asarray(v, np.float32) for k, v in outputs.items()})))
        return common.evaluate_pieces(task, pieces)

    return evaluate


def run(task: common.Task, args, tokenizer) -> dict:
    common.seed_everything(args.seed)
    import keras

    keras.utils.set_random_seed(args.seed)
    warmup_linear_decay = _warmup_linear_decay_class()  # registered before a resumed model is deserialised
    strategy = make_strategy(args.replicas)
    dtype = {"no": None, "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}[args.mixed_precision]
    checkpoint = os.path.join(args.output_dir, CHECKPOINT_DIR)
    state_path = os.path.join(checkpoint, "trainer_state.json")
    started = time.time()
    if args.eval_only:
        with strategy.scope():
            model = load_model(task, args, checkpoint, dtype)
        scores, predictions = make_evaluate(model, task, args.batch_size, args.compile)()
        metrics = common.final_metrics(task, "keras", 0, scores, [], time.time() - started,
                                       replicas=strategy.num_replicas_in_sync)
        common.finish(metrics, args.output_dir, task, predictions)
        return metrics

    steps = common.total_steps(len(task.train), args.batch_size, args.epochs, args.max_steps)
    warmup = int(steps * args.warmup_ratio)
    steps_per_epoch = -(-len(task.train) // args.batch_size)
    initial_epoch = 0
    with strategy.scope():
        model = load_model(task, args, checkpoint, dtype)
        if args.resume:
            with open(state_path, encoding="utf-8") as handle:
                initial_epoch = json.load(handle)["epoch"]
        else:
            schedule = warmup_linear_decay(args.learning_rate, steps, warmup)
            optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=args.weight_decay,
                                               global_clipnorm=1.0)
            optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "LayerNorm"])
            model.compile(optimizer=optimizer, jit_compile=args.compile)
    pad_multiple = XLA_PAD_MULTIPLE if args.compile else 1
    train_ds = make_train_dataset(task, args.batch_size, args.seed, initial_epoch, pad_multiple)
    evaluate = make_evaluate(model, task, args.batch_size, args.compile)
    history, last_eval = [], []

    def optimizer_steps() -> int:
        return int(model.optimizer.iterations.numpy())

    class EvaluateAndCheckpoint(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if args.max_steps and optimizer_steps() >= args.max_steps:
                self.model.stop_training = True  # as the torch loop: --max-steps counts optimizer steps in all

        def on_epoch_end(self, epoch, logs=None):
            last_eval[:] = evaluate()
            history.append(common.epoch_record(epoch + 1, optimizer_steps(),
                                               float(logs["loss"]) if logs else None, last_eval[0]))
            print(common.describe_epoch(history[-1]), flush=True)
            os.makedirs(checkpoint, exist_ok=True)
            self.model.save(os.path.join(checkpoint, "model.keras"))
            with common.atomic_write(state_path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
                json.dump({"epoch": epoch + 1}, handle)

    started = time.time()
    model.fit(train_ds.repeat(), epochs=args.epochs, initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
              callbacks=[EvaluateAndCheckpoint()], verbose=2 if args.quiet else 1, shuffle=False)
    scores, predictions = last_eval if last_eval else evaluate()  # resumed after the last epoch: evaluate once
    metrics = common.final_metrics(task, "keras", optimizer_steps(), scores, history, time.time() - started,
                                   replicas=strategy.num_replicas_in_sync)
    model.save_pretrained(args.output_dir)
    tokenizer.save_pretrained(args.output_dir)
    common.finish(metrics, args.output_dir, task, predictions)
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
