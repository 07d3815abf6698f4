"""Training parity (issue 7): ``compare_training`` trains two models (by default a model and its converted twin)
side by side from the same weights, dropout off, on the same batches in the same order, each with its own
framework's SGD or AdamW set up to the same update formula (``OptimizerSpec`` documents the conventions), and
reports the per-step loss curves (relative difference per step, ``TRAIN_RTOL``) and the final weights' max |diff|
(``TRAIN_WEIGHT_ATOL``).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from deberta_core.batches import DEFAULT_BATCH_SIZE, DEFAULT_SEED, make_batch
from deberta_core.weight_map import apply_op, expand, normalize_architecture

from .parity import ParityEntry, ParityReport, full_fp32, max_abs_diff, progress_bar, surrogate_probe
from .twins import framework_of, tf_model_to_torch, torch_model_to_tf

# Issue 7: per-step losses of the same training in both frameworks, |a - b| / max(|a|, |b|). Step 0 is the forward
# parity (~1e-7 relative); each update then carries the frameworks' rounding differences forward. Measured over
# 50 steps of tiny models at stable settings: <= 7e-6 (docs/conversion.md); a real difference in the update
# (another learning rate, Keras' stock AdamW epsilon) shows as 1e-3 and more.
TRAIN_RTOL = 1e-4
# Issue 7: the same training in both frameworks. Each step adds fp32 rounding differences (kernel order, the
# optimizers' own arithmetic) that later steps carry along; over 50 steps on a tiny model the final weights stay
# within ~1e-6 (docs/conversion.md), so 1e-4 separates rounding drift from an update that is really different.
TRAIN_WEIGHT_ATOL = 1e-4
DEFAULT_TRAIN_STEPS = 50
OPTIMIZERS = ("sgd", "adamw")
# torch.optim.AdamW adds eps to the bias-corrected sqrt(v_hat); keras.optimizers.AdamW adds epsilon to the raw
# sqrt(v) and folds the bias corrections into the step size (see OptimizerSpec).
EPSILON_CONVENTIONS = ("torch", "keras")
# Per-optimizer defaults: large enough that a tiny model's loss moves visibly in 50 steps, small enough to stay
# stable (SGD has no normalisation of the step; AdamW's steps are ~lr per weight).
DEFAULT_LEARNING_RATES = {"sgd": 0.05, "adamw": 1e-3}
MAX_LISTED_FAILURES = 10  # over-tolerance entries shown by TrainingReport.to_text (all are in .failures)


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer, built in each framework with the same semantics.

    ``sgd``: ``torch.optim.SGD(lr, momentum, weight_decay)`` vs ``keras.optimizers.SGD(learning_rate, momentum,
    weight_decay)``. Momentum: torch keeps ``buf = m*buf + g; w -= lr*buf``, Keras ``v = m*v - lr*g; w += v``, the
    same update for a constant learning rate. Weight decay: torch adds ``wd*w`` to the gradient (L2), Keras
    subtracts ``lr*wd*w`` from the weight before the step (decoupled); the same update without momentum, different
    ones with it (torch's decay goes through the momentum buffer), so that combination is refused.

    ``adamw``: ``torch.optim.AdamW(lr, betas, eps, weight_decay)`` vs ``keras.optimizers.AdamW(learning_rate,
    beta_1, beta_2, epsilon, weight_decay)``. Both decay first (``w -= lr*wd*w``, every weight), then take the Adam
    step with bias-corrected moments. They differ in where epsilon goes: torch divides by
    ``sqrt(v)/sqrt(1-b2^t) + eps``, Keras by ``sqrt(v) + epsilon`` (with ``sqrt(1-b2^t)`` folded into the step
    size), so torch's ``eps`` is Keras' ``epsilon = eps*sqrt(1-b2^t)``, a per-step value. With
    ``epsilon_convention="torch"`` (default) the Keras side is ``keras.optimizers.AdamW`` with exactly that
    per-step epsilon (``TorchEpsilonAdamW``; nothing else changes) and the two updates are the same formula;
    ``"keras"`` runs the stock ``keras.optimizers.AdamW(epsilon=eps)`` against torch's ``eps``, whose difference
    grows with eps relative to sqrt(v) (measured in docs/conversion.md).
    """

    name: str = "sgd"
    learning_rate: Optional[float] = None  # None: DEFAULT_LEARNING_RATES[name]
    momentum: float = 0.0
    weight_decay: float = 0.0
    betas: Tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    epsilon_convention: str = "torch"

    def __post_init__(self):
        if self.name not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.name!r}")
        if self.learning_rate is None:
            object.__setattr__(self, "learning_rate", DEFAULT_LEARNING_RATES[self.name])
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.name == "adamw" and self.momentum:
            raise ValueError(f"momentum ({self.momentum}) is an SGD setting; AdamW's moments are set by betas")
        if self.name == "sgd" and self.momentum and self.weight_decay:
            raise ValueError(
                f"sgd with momentum ({self.momentum}) and weight_decay ({self.weight_decay}) has no common meaning: "
                "torch.optim.SGD adds wd*w to the gradient (decayed through the momentum buffer), keras SGD "
                "subtracts lr*wd*w from the weight (decoupled); use one of the two, or adamw")
        betas = tuple(float(b) for b in self.betas)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")
        object.__setattr__(self, "betas", betas)
        if not (math.isfinite(self.eps) and self.eps > 0):
            raise ValueError(f"eps must be a positive number, got {self.eps}")
        if self.epsilon_convention not in EPSILON_CONVENTIONS:
            raise ValueError(f"epsilon_convention must be one of {', '.join(EPSILON_CONVENTIONS)}, "
                             f"got {self.epsilon_convention!r}")

    def describe(self) -> str:
        if self.name == "sgd":
            text = f"SGD lr {self.learning_rate:g}"
            text += f", momentum {self.momentum:g}" if self.momentum else ""
            return text + (f", weight decay {self.weight_decay:g}" if self.weight_decay else "")
        return (f"AdamW lr {self.learning_rate:g}, betas ({self.betas[0]:g}, {self.betas[1]:g}), eps {self.eps:g} "
                f"({self.epsilon_convention} convention), weight decay {self.weight_decay:g}")

    def torch_optimizer(self, params):
        import torch

        if self.name == "sgd":
            return torch.optim.SGD(params, lr=self.learning_rate, momentum=self.momentum,
                                   weight_decay=self.weight_decay)
        return torch.optim.AdamW(params, lr=self.learning_rate, betas=self.betas, eps=self.eps,
                                 weight_decay=self.weight_decay)

    def keras_optimizer(self):
        import keras

        if self.name == "sgd":
            return keras.optimizers.SGD(learning_rate=self.learning_rate, momentum=self.momentum,
                                        weight_decay=self.weight_decay or None)
        cls = torch_epsilon_adamw() if self.epsilon_convention == "torch" else keras.optimizers.AdamW
        return cls(learning_rate=self.learning_rate, beta_1=self.betas[0], beta_2=self.betas[1], epsilon=self.eps,
                   weight_decay=self.weight_decay)


_TORCH_EPSILON_ADAMW = None


def torch_epsilon_adamw():
    """``keras.optimizers.AdamW`` whose ``epsilon`` means what torch's ``eps`` means (built on first use: Keras is
    imported only then). Keras' Adam step reads ``self.epsilon`` once per variable update; here that attribute is
    ``eps * sqrt(1 - beta_2 ** t)`` for the step ``t`` being taken, which turns Keras'
    ``lr*sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + epsilon)`` into torch's ``lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)``."""
    global _TORCH_EPSILON_ADAMW
    if _TORCH_EPSILON_ADAMW is None:
        import keras
        from keras import ops

        class TorchEpsilonAdamW(keras.optimizers.AdamW):
            @property
            def epsilon(self):
                step = ops.cast(self.iterations + 1, "float32")
                return self.torch_eps * ops.sqrt(1.0 - ops.power(ops.cast(self.beta_2, "float32"), step))

            @epsilon.setter
            def epsilon(self, value):
                self.torch_eps = float(value)

            def get_config(self):
                config = super().get_config()
                config["epsilon"] = self.torch_eps
                return config

        _TORCH_EPSILON_ADAMW = TorchEpsilonAdamW
    return _TORCH_EPSILON_ADAMW


class _TorchTrainer:
    """One training step of a deberta_torch model: forward in eval mode (dropout off; autograd still records),
    backward, ``optimizer.step()``. A weight the loss does not reach gets a zero gradient (not None), so that both
    frameworks decay it and advance its moments alike."""

    def __init__(self, model, spec: OptimizerSpec):
        import torch

        self.torch, self.model = torch, model
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = spec.torch_optimizer(self.params)

    def step(self, batch: Mapping[str, np.ndarray]) -> float:
        torch = self.torch
        inputs = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in batch.items()}
        self.optimizer.zero_grad(set_to_none=True)
        out = self.model(**inputs, return_dict=True)
        loss = out.get("loss")
        if loss is None:  # bare DebertaModel: the surrogate loss of run_torch
            loss = (out["last_hidden_state"] * torch.from_numpy(surrogate_probe(out["last_hidden_state"].shape))).mean()
        loss.backward()
        for param in self.params:
            if param.grad is None:
                param.grad = torch.zeros_like(param)
        self.optimizer.step()
        return float(loss.detach())


class _TFTrainer:
    """One training step of a deberta_tf model, compiled with ``tf.function`` (no XLA: the plain kernels): forward
    with ``training=False`` (dropout off) inside a GradientTape, dense gradients (an embedding's IndexedSlices are
    summed into a dense tensor, as torch's embedding gradient is), ``optimizer.apply``."""

    def __init__(self, model, spec: OptimizerSpec):
        import tensorflow as tf

        from deberta_tf.io import model_variables

        self.tf, self.model = tf, model
        model.build()
        self.variables = [v for v in model_variables(model).values() if v.trainable]
        self.optimizer = spec.keras_optimizer()
        self.optimizer.build(self.variables)
        self._compiled = tf.function(self._train_step)

    def _train_step(self, inputs):
        tf = self.tf
        with tf.GradientTape() as tape:
            out = self.model(**inputs, training=False, return_dict=True)
            loss = out.get("loss")
            if loss is None:
                hidden = out["last_hidden_state"]
                loss = tf.reduce_mean(hidden * surrogate_probe(hidden.shape))
        grads = tape.gradient(loss, self.variables)
        grads = [tf.zeros(v.shape, v.dtype) if g is None else tf.convert_to_tensor(g)
                 for g, v in zip(grads, self.variables)]
        self.optimizer.apply(grads, self.variables)
        return loss

    def step(self, batch: Mapping[str, np.ndarray]) -> float:
        return float(self._compiled({k: self.tf.constant(v) for k, v in batch.items()}))


def torch_layout_weights(model) -> Dict[str, np.ndarray]:
    """Every weight of the model's weight map, as torch key -> array in the torch layout (either framework)."""
    arch = normalize_architecture(type(model).__name__)
    entries = expand(model.config, arch)
    if framework_of(model) == "torch":
        state = model.state_dict()
        return {e.torch_key: state[e.torch_key].detach().cpu().numpy().copy() for e in entries}
    from deberta_tf.io import model_weights

    model.build()
    weights = model_weights(model)
    return {e.torch_key: apply_op(e.op, weights[e.keras_name], inverse=True) for e in entries}


def _relative_diff(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|); 0 when both are 0, inf when either is not finite (unless both are the same)."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return 0.0 if a == b else math.inf  # the same infinity agrees; a NaN never does
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale > 0 else 0.0


@dataclass
class TrainingReport(ParityReport):
    """``compare_training``'s result: entries ``loss.<step>`` (relative difference, against ``rtol``),
    ``initial_weights`` and ``weight:<torch key>`` (final weights, max |diff| against ``weight_atol``).

    Attributes:
        label_a: what side A is.
        label_b: what side B is.
        entries: the ``loss.<step>``, ``initial_weights`` and ``weight:<key>`` entries.
        atol: the final weights' tolerance (``weight_atol``).
        grad_atol: unused here (None).
        precision: the matmul precision settings in force (``full_fp32``).
        inputs: unused here (the batches are described by ``batches``).
        rtol: the losses' relative tolerance.
        steps: the number of training steps.
        optimizer: model_a's optimizer, described.
        optimizer_b: model_b's, when it differs on purpose.
        losses_a: model_a's loss at each step (before that step's update).
        losses_b: model_b's.
        seconds: training time of each side.
        batches: which batches were used.
        loss_rel_diffs: the relative loss difference at each step.
        failed_steps: the steps whose losses differ by more than ``rtol``.
        first_failed_step: the first of them, or None.
    """

    rtol: float = TRAIN_RTOL
    steps: int = 0
    optimizer: str = ""
    optimizer_b: str = ""  # set only when model_b's optimizer differs on purpose
    losses_a: List[float] = field(default_factory=list)
    losses_b: List[float] = field(default_factory=list)
    seconds: Dict[str, float] = field(default_factory=dict)
    batches: str = ""

    @property
    def loss_rel_diffs(self) -> List[float]:
        return [_relative_diff(a, b) for a, b in zip(self.losses_a, self.losses_b)]

    @property
    def failed_steps(self) -> List[int]:
        return [int(e.name.split(".")[1]) for e in self.failures if e.name.startswith("loss.")]

    @property
    def first_failed_step(self) -> Optional[int]:
        steps = self.failed_steps
        return min(steps) if steps else None

    def max_loss_rel_diff(self) -> Tuple[float, Optional[int]]:
        """The largest relative loss difference and its step; (0.0, None) when no step ran."""
        diffs = self.loss_rel_diffs
        if not diffs:
            return 0.0, None
        step = int(np.argmax(diffs))
        return diffs[step], step

    def max_weight_diff(self) -> Tuple[float, Optional[str]]:
        """The largest final-weight difference and its torch key; (0.0, None) when no weight was compared."""
        pool = [e for e in self.entries if e.name.startswith("weight:")]
        if not pool:
            return 0.0, None
        worst = max(pool, key=lambda e: e.max_abs_diff)
        return worst.max_abs_diff, worst.name[len("weight:"):]

    def as_dict(self) -> Dict[str, Any]:
        """The report as a JSON-ready dict: labels, verdict, optimizer, losses and their differences, the worst weight,
        failures, timings and precision.
        """
        loss_diff, loss_step = self.max_loss_rel_diff()
        weight_diff, weight_key = self.max_weight_diff()
        return {
            "a": self.label_a, "b": self.label_b, "passed": self.passed, "steps": self.steps,
            "optimizer": self.optimizer, "optimizer_b": self.optimizer_b or None, "batches": self.batches,
            "rtol": self.rtol, "weight_atol": self.atol, "losses_a": self.losses_a, "losses_b": self.losses_b,
            "loss_rel_diffs": self.loss_rel_diffs, "max_loss_rel_diff": loss_diff, "max_loss_rel_diff_step": loss_step,
            "max_weight_diff": weight_diff, "max_weight_diff_key": weight_key,
            "first_failed_step": self.first_failed_step, "failures": [e.name for e in self.failures],
            "seconds": self.seconds, "precision": self.precision,
        }

    def to_text(self, verbose: bool = False) -> str:
        """The report for a terminal: verdict, optimizer, loss curves, the worst weight, timings and the failures.

        Args:
            verbose: list every entry, not only the failures.
        """
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"training parity {verdict}: {self.label_a}  vs  {self.label_b}"]
        lines.append(f"  optimizer: {self.optimizer}" + (f"  (B: {self.optimizer_b})" if self.optimizer_b else ""))
        lines.append(f"  training:  {self.steps} steps, dropout off, same batches in the same order ({self.batches})")
        if self.losses_a:
            loss_diff, loss_step = self.max_loss_rel_diff()
            lines.append(f"  loss:      A {self.losses_a[0]:.6g} -> {self.losses_a[-1]:.6g}, "
                         f"B {self.losses_b[0]:.6g} -> {self.losses_b[-1]:.6g}; max rel diff {loss_diff:.3g} "
                         f"(step {loss_step}), rtol {self.rtol:g}")
        weight_diff, weight_key = self.max_weight_diff()
        if weight_key is not None:
            count = sum(e.name.startswith("weight:") for e in self.entries)
            lines.append(f"  weights:   {count} tensors after {self.steps} steps, max |diff| {weight_diff:.3g} "
                         f"({weight_key}), atol {self.atol:g}")
        if self.seconds:
            lines.append("  time:      " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()))
        first = self.first_failed_step
        if first is not None:
            lines.append(f"  first step over rtol: {first} (loss A {self.losses_a[first]:.8g}, "
                         f"B {self.losses_b[first]:.8g}, rel diff {self.loss_rel_diffs[first]:.3g})")
        failures = self.failures
        if failures:
            lines.append("  over tolerance:")
            width = max(len(e.name) for e in failures[:MAX_LISTED_FAILURES])
            for e in failures[:MAX_LISTED_FAILURES]:
                measure = "rel diff" if e.relative else "max |diff|"
                detail = e.note or f"{measure} {e.max_abs_diff:.3g} > {'rtol' if e.relative else 'atol'} {e.atol:g}"
                lines.append(f"    FAIL {e.name:<{width}}  {detail}")
            if len(failures) > MAX_LISTED_FAILURES:
                lines.append(f"    ... and {len(failures) - MAX_LISTED_FAILURES} more")
        if verbose and self.losses_a:
            lines.append("  step  loss A          loss B          rel diff")
            for step, (a, b, d) in enumerate(zip(self.losses_a, self.losses_b, self.loss_rel_diffs)):
                lines.append(f"  {step:>4}  {a:<14.8g}  {b:<14.8g}  {d:.3g}")
        return "\n".join(lines)


def _optimizer_spec(optimizer, **hyper) -> OptimizerSpec:
    if isinstance(optimizer, OptimizerSpec):
        return optimizer
    if not isinstance(optimizer, str):
        raise TypeError(f"optimizer must be 'sgd', 'adamw' or an OptimizerSpec, got {type(optimizer).__name__}")
    return OptimizerSpec(optimizer.lower(), **hyper)


def compare_training(
    model_a, model_b=None, batches: Optional[Sequence[Mapping[str, np.ndarray]]] = None, *,
    steps: Optional[int] = None, optimizer: Any = "sgd", learning_rate: Optional[float] = None,
    momentum: float = 0.0, weight_decay: float = 0.0, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
    epsilon_convention: str = "torch", optimizer_b: Any = None, rtol: float = TRAIN_RTOL,
    weight_atol: float = TRAIN_WEIGHT_ATOL, seed: int = DEFAULT_SEED, batch_size: int = DEFAULT_BATCH_SIZE,
    seq_len: Optional[int] = None, label_a: Optional[str] = None, label_b: Optional[str] = None,
    torch_threads: Optional[int] = 1, progress: bool = False,
) -> TrainingReport:
    """Training parity: train ``model_a`` and ``model_b`` side by side, step by step, and compare.

    Both are trained **in place**, with dropout off (torch eval mode, Keras ``training=False``; gradients flow as
    usual), on the same batches in the same order, inside ``full_fp32()``. The report: ``loss.<step>`` = |loss_a -
    loss_b| / max(|loss_a|, |loss_b|) (the loss each model computed before that step's update) against ``rtol``;
    ``weight:<torch key>`` = max |a - b| of the final weights (TF weights mapped to the torch layout) against
    ``weight_atol``.

    Args:
        model_a: a deberta_torch or deberta_tf model.
        model_b: the same head in either framework; default ``model_a``'s twin in the other framework, converted
            through the weight map (so both start from the same weights; a given ``model_b`` starts from its own, and
            the report's ``initial_weights`` entry says how far they are from ``model_a``'s).
        batches: NumPy batches by name ([b, s] inputs and labels), one per step; default ``make_batch(config, arch,
            batch_size, seq_len, seed=seed + step)`` for each step (padding, token types, labels).
        steps: how many steps; default the number of ``batches``, else ``DEFAULT_TRAIN_STEPS``.
        optimizer: ``"sgd"`` or ``"adamw"`` (with the keyword hyper-parameters below), or an ``OptimizerSpec``; each
            framework runs its own optimizer with the same semantics.
        learning_rate: default ``DEFAULT_LEARNING_RATES[optimizer]``.
        momentum: SGD momentum.
        weight_decay: SGD: L2 (torch) / decoupled (Keras), the same update without momentum; AdamW: decoupled.
        betas: AdamW's moment decay rates.
        eps: AdamW's epsilon, in torch's convention.
        epsilon_convention: ``"torch"``: the Keras side uses torch's epsilon exactly (the same formula); ``"keras"``:
            the stock Keras AdamW with ``epsilon=eps`` (see ``OptimizerSpec``).
        optimizer_b: for showing what a mismatch looks like: model_b's own spec, or a mapping of fields changed from
            model_a's (``{"learning_rate": 2e-3}``).
        rtol: the losses' relative tolerance.
        weight_atol: the final weights' tolerance.
        seed: the seed of the first generated batch.
        batch_size: b of the generated batches.
        seq_len: s of the generated batches.
        label_a: what to call model_a in the report.
        label_b: what to call model_b.
        torch_threads: torch's intra-op threads while a torch model trains next to a TF one (restored afterwards;
            None leaves the setting alone): the two frameworks' thread pools otherwise contend for the cores.
        progress: show a progress bar on stderr.

    Returns:
        The ``TrainingReport``.

    Raises:
        ValueError: ``model_b`` is ``model_a`` or another head, a bad optimizer setting, empty ``batches``, more
            ``steps`` than batches, or a bad ``steps`` / ``batch_size``.
    """
    from dataclasses import replace

    arch = normalize_architecture(type(model_a).__name__)
    if model_b is None:
        model_b = torch_model_to_tf(model_a) if framework_of(model_a) == "torch" else tf_model_to_torch(model_a)
    elif model_b is model_a:
        raise ValueError("model_b is model_a: training parity needs two models (None: model_a's converted twin)")
    elif normalize_architecture(type(model_b).__name__) != arch:
        raise ValueError(f"cannot train a {type(model_a).__name__} against a {type(model_b).__name__}: different heads")
    spec_a = _optimizer_spec(optimizer, learning_rate=learning_rate, momentum=momentum, weight_decay=weight_decay,
                             betas=betas, eps=eps, epsilon_convention=epsilon_convention)
    if optimizer_b is None:
        spec_b = spec_a
    elif isinstance(optimizer_b, Mapping):
        unknown = sorted(set(optimizer_b) - set(OptimizerSpec.__dataclass_fields__))
        if unknown:
            raise ValueError(f"optimizer_b: unknown OptimizerSpec fields {unknown}; "
                             f"expected some of {sorted(OptimizerSpec.__dataclass_fields__)}")
        spec_b = replace(spec_a, **optimizer_b)
    else:
        spec_b = _optimizer_spec(optimizer_b)
    if steps is not None and (not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1):
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if batches is not None:
        batches = list(batches)
        if not batches:
            raise ValueError("batches is empty: give at least one batch (or None for generated ones)")
        steps = len(batches) if steps is None else int(steps)
        if steps > len(batches):
            raise ValueError(f"steps ({steps}) is more than the {len(batches)} batches given")
        description = f"{len(batches)} given batches"
    else:
        steps = DEFAULT_TRAIN_STEPS if steps is None else int(steps)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        description = None

    def batch_at(step: int) -> Mapping[str, np.ndarray]:
        if batches is not None:
            return batches[step]
        return make_batch(model_a.config, arch, batch_size=batch_size, seq_len=seq_len, seed=seed + step)

    if description is None:
        shape = list(batch_at(0)["input_ids"].shape)
        description = f"make_batch {shape} with seeds {seed}..{seed + steps - 1}"

    losses_a: List[float] = []
    losses_b: List[float] = []
    seconds = {"A": 0.0, "B": 0.0}
    torch_models = [m for m in (model_a, model_b) if framework_of(m) == "torch"]
    modes = [m.training for m in torch_models]
    bar = progress_bar(steps, "training", progress)
    torch = sys.modules.get("torch") if torch_models else None
    threads = torch.get_num_threads() if torch is not None else None
    try:
        if torch is not None and torch_threads is not None and len(torch_models) == 1:
            # Alternating with TensorFlow every step, torch's OpenMP workers wait on cores that TensorFlow's
            # thread pool is still spinning on: measured 0.4 s instead of 2 ms per tiny-model step on 2 cores.
            torch.set_num_threads(torch_threads)
        with full_fp32() as precision:
            initial_a, initial_b = torch_layout_weights(model_a), torch_layout_weights(model_b)
            for m in torch_models:
                m.eval()  # dropout off; autograd still records
            trainers = []
            for model, spec in ((model_a, spec_a), (model_b, spec_b)):
                trainers.append((_TorchTrainer if framework_of(model) == "torch" else _TFTrainer)(model, spec))
            for step in range(steps):
                batch = batch_at(step)
                for trainer, losses, side in ((trainers[0], losses_a, "A"), (trainers[1], losses_b, "B")):
                    start = time.perf_counter()
                    losses.append(trainer.step(batch))
                    seconds[side] += time.perf_counter() - start
                bar.update(1)
            final_a, final_b = torch_layout_weights(model_a), torch_layout_weights(model_b)
    finally:
        bar.close()
        if threads is not None:
            torch.set_num_threads(threads)
        for m, mode in zip(torch_models, modes):
            m.train(mode)

    entries = [ParityEntry(f"loss.{i}", _relative_diff(a, b), rtol, relative=True)
               for i, (a, b) in enumerate(zip(losses_a, losses_b))]
    for prefix, left, right in (("initial_weights", initial_a, initial_b), ("weight:", final_a, final_b)):
        rows = []
        for key in list(left) + [k for k in right if k not in left]:
            if key not in left or key not in right:
                rows.append(ParityEntry(key, math.inf, weight_atol, note="only one model has this weight"))
            elif left[key].shape != right[key].shape:
                rows.append(ParityEntry(key, math.inf, weight_atol, left[key].shape,
                                        note=f"shape {list(left[key].shape)} vs {list(right[key].shape)}"))
            else:
                rows.append(ParityEntry(key, max_abs_diff(left[key], right[key]), weight_atol, left[key].shape))
        if prefix == "weight:":
            entries += [ParityEntry(prefix + e.name, e.max_abs_diff, e.atol, e.shape, e.note) for e in rows]
        else:  # one entry: the worst initial weight, named in its note only when it fails
            worst = max(rows, key=lambda e: e.max_abs_diff)
            entries.append(ParityEntry(prefix, worst.max_abs_diff, weight_atol, note=(
                f"{worst.name}: {worst.note or f'max |diff| {worst.max_abs_diff:.3g}'} before training"
                if not worst.passed else "")))
    seconds = {f"{framework_of(m)} ({side})": s for (side, s), m in zip(seconds.items(), (model_a, model_b))}
    return TrainingReport(
        label_a or f"{framework_of(model_a)} {type(model_a).__name__}",
        label_b or f"{framework_of(model_b)} {type(model_b).__name__}",
        entries, weight_atol, None, precision, {}, rtol=rtol, steps=steps, optimizer=spec_a.describe(),
        optimizer_b=spec_b.describe() if spec_b != spec_a else "", losses_a=losses_a, losses_b=losses_b,
        seconds=seconds, batches=description,
    )


__all__ = [
    "DEFAULT_LEARNING_RATES", "TRAIN_RTOL", "TRAIN_WEIGHT_ATOL", "OptimizerSpec", "TrainingReport",
    "compare_training", "torch_epsilon_adamw", "torch_layout_weights",
]
