"""The pure logic of `make bench`: the cases and their peers, FLOP counts, inputs, repeat order and statistics.

Nothing here imports torch or TensorFlow (the orchestrator stays small, so a child's peak RSS is its own and
the unit tests run in milliseconds). Vocabulary:

- a *group* is one kind of measurement (``forward``: a torch inference forward; ``train``: a torch training
  step; ``keras-forward``; ``keras-fit``; ``gemm``), with its shapes, its peers and its repeat counts;
- a *case* is one group at one shape, named ``group/shape`` (``forward/b8_s128``);
- a *peer* is one implementation measured in a case (``ours``, ``ours-compile``, ``reference``, ...). Every
  (case, peer) runs in its own worker process (benchmarks/worker.py), built by the function ``runner`` names;
- the *baseline* of a group is the peer the others are compared with (the reference implementation);
  ratios are baseline time / peer time, so above 1.0 the peer is faster than the baseline.
"""

from __future__ import annotations

import fnmatch
import statistics
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

# -------------------------------------------------------------------------------------------------- peers, groups


@dataclass(frozen=True)
class Peer:
    """One implementation measured in a group's cases.

    runner: ``"module:function"`` building the callable in the worker (see benchmarks/worker.py).
    process: the worker's environment: ``torch`` (USE_TF=0), ``keras`` (our Keras 3), ``tf-reference`` (the
      reference's 4.x TF classes on tf-keras, TF_USE_LEGACY_KERAS=1: they cannot share a process with Keras 3)
      or ``plain``.
    options: keyword arguments for the runner.
    ours: measured code of this package (the targets compare the best of ours with the other peers).
    default: part of a plain run (``--peers all`` adds the others).
    optional: a peer whose runner may find its feature missing (raises ``Unavailable``): shown as n/a, not
      as an error.
    """

    name: str
    runner: str
    process: str = "torch"
    options: Tuple[Tuple[str, Any], ...] = ()
    ours: bool = False
    default: bool = True
    optional: bool = False
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class Group:
    name: str
    title: str
    shapes: Tuple[Tuple[int, ...], ...]
    quick_shapes: Tuple[Tuple[int, ...], ...]
    peers: Tuple[Peer, ...]
    baseline: str
    repeats: int
    warmup: int
    flops: str  # "forward", "train" or "gemm": which count below applies
    checkpoint: str = "base"  # which prepared checkpoint the workers load: "base" (encoder) or "cls" (classifier)
    compare_outputs: bool = False  # workers save their output; max |diff| against the baseline is reported
    note: str = ""

    def peer(self, name: str) -> Peer:
        for peer in self.peers:
            if peer.name == name:
                return peer
        raise KeyError(f"group {self.name!r} has no peer {name!r}; it has {[p.name for p in self.peers]}")


def shape_name(shape: Sequence[int]) -> str:
    """``(8, 128)`` -> ``b8_s128``; a GEMM's ``(m, k, n)`` -> ``1024x768x3072``."""
    if len(shape) == 2:
        return f"b{shape[0]}_s{shape[1]}"
    return "x".join(str(n) for n in shape)


def case_name(group: str, shape: Sequence[int]) -> str:
    return f"{group}/{shape_name(shape)}"


_TORCH = "benchmarks.bench_torch"
_KERAS = "benchmarks.bench_keras"
_GEMM = "benchmarks.bench_gemm"

# A fast-inference entry point of deberta_torch (a function taking the eval model and returning the callable
# to time) becomes a peer with one line here, e.g.
#     Peer("ours-fast", f"{_TORCH}:forward_ours", options=(("transform", "deberta_torch.<function>"),), ours=True,
#          optional=True),
TORCH_FORWARD_PEERS = (
    Peer("ours", f"{_TORCH}:forward_ours", ours=True, label="ours (eager)"),
    Peer("ours-frozen", f"{_TORCH}:forward_ours", options=(("frozen", True),), ours=True,
         label="ours (eager, freeze_relative_tables)"),
    Peer("ours-compile", f"{_TORCH}:forward_ours", options=(("compile", True),), ours=True,
         label="ours, torch.compile(fullgraph=True)"),
    Peer("reference", f"{_TORCH}:forward_reference", label="reference (transformers)"),
    Peer("onnxruntime", f"{_TORCH}:forward_onnxruntime", label="ONNX Runtime (our export)"),
)

TORCH_TRAIN_PEERS = (
    Peer("ours", f"{_TORCH}:train_ours", ours=True, label="ours"),
    Peer("ours-ckpt", f"{_TORCH}:train_ours", options=(("gradient_checkpointing", True),), ours=True,
         label="ours, gradient checkpointing"),
    Peer("reference", f"{_TORCH}:train_reference", label="reference (transformers)"),
    Peer("reference-ckpt", f"{_TORCH}:train_reference", options=(("gradient_checkpointing", True),),
         default=False, label="reference, gradient checkpointing"),
)

KERAS_FORWARD_PEERS = (
    Peer("ours-graph", f"{_KERAS}:forward_ours", process="keras", ours=True, label="ours, tf.function"),
    Peer("ours-xla", f"{_KERAS}:forward_ours", process="keras", options=(("jit_compile", True),), ours=True,
         label="ours, XLA"),
    Peer("reference-graph", f"{_KERAS}:forward_reference", process="tf-reference",
         label="reference TF classes, tf.function"),
    Peer("reference-xla", f"{_KERAS}:forward_reference", process="tf-reference",
         options=(("jit_compile", True),), label="reference TF classes, XLA"),
)

KERAS_FIT_PEERS = (
    Peer("ours", f"{_KERAS}:fit_ours", process="keras", ours=True, label="ours, compile()"),
    Peer("ours-xla", f"{_KERAS}:fit_ours", process="keras", options=(("jit_compile", True),), ours=True,
         label="ours, compile(jit_compile=True)"),
    Peer("reference", f"{_KERAS}:fit_reference", process="tf-reference", label="reference TF classes, compile()"),
    Peer("reference-xla", f"{_KERAS}:fit_reference", process="tf-reference", options=(("jit_compile", True),),
         label="reference TF classes, compile(jit_compile=True)"),
)

GEMM_PEERS = (
    Peer("torch", f"{_GEMM}:gemm_torch", label="torch.matmul"),
    Peer("numpy", f"{_GEMM}:gemm_numpy", process="plain", label="NumPy matmul"),
    Peer("onnxruntime", f"{_GEMM}:gemm_onnxruntime", process="plain", label="ONNX Runtime MatMul"),
)

GROUPS: Tuple[Group, ...] = (
    Group("gemm", "fp32 GEMM (the machine's ceiling in this run)", ((1024, 768, 3072),), ((1024, 768, 3072),),
          GEMM_PEERS, baseline="torch", repeats=21, warmup=3, flops="gemm"),
    Group("forward", "PyTorch forward (eval, inference_mode, fp32)",
          ((1, 128), (8, 128), (1, 512), (4, 512), (1, 2048)), ((1, 128),),
          TORCH_FORWARD_PEERS, baseline="reference", repeats=5, warmup=1, flops="forward", compare_outputs=True),
    Group("train", "PyTorch training step (sequence classification: forward + backward + AdamW)",
          ((8, 128), (1, 1024)), ((8, 128),), TORCH_TRAIN_PEERS, baseline="reference", repeats=5, warmup=2,
          flops="train", checkpoint="cls"),
    Group("keras-forward", "Keras forward (inference, fp32)", ((8, 128), (1, 512)), ((8, 128),),
          KERAS_FORWARD_PEERS, baseline="reference-graph", repeats=7, warmup=2, flops="forward",
          compare_outputs=True),
    Group("keras-fit", "Keras fit step (train_on_batch: forward + backward + AdamW, sequence classification)",
          ((8, 128),), ((8, 128),), KERAS_FIT_PEERS, baseline="reference", repeats=5, warmup=2, flops="train",
          checkpoint="cls"),
)

# Benchmarks with their own protocol, each run whole in one worker process: name -> (runner, process).
SUITES = {
    "profile": ("benchmarks.bench_torch:profile_suite", "torch"),
    "tokenizer": ("benchmarks.bench_tokenizer:suite", "torch"),
    "convert": ("benchmarks.bench_convert:suite", "plain"),
}


class Unavailable(RuntimeError):
    """Raised by a runner of an optional peer whose feature this checkout does not have (shown as n/a)."""


@dataclass
class Runner:
    """What a peer's runner function returns to the worker: ``step()`` is one timed run (it must have finished
    its work when it returns); ``output()``, when given, returns the case's output as a NumPy array (compared
    with the baseline's); ``info`` is reported as is (threads, compile details)."""

    step: Any
    output: Any = None
    info: Dict[str, Any] = field(default_factory=dict)

QUICK_REPEATS = 2
QUICK_WARMUP = 1


def group(name: str) -> Group:
    for g in GROUPS:
        if g.name == name:
            return g
    raise KeyError(f"no benchmark group {name!r}; expected one of {[g.name for g in GROUPS]}")


@dataclass
class Plan:
    """What one run measures: [(group, shape, peers)] in order, the suites, repeats and warm-up per group."""

    cases: List[Tuple[Group, Tuple[int, ...], List[Peer]]] = field(default_factory=list)
    suites: List[str] = field(default_factory=list)
    repeats: Dict[str, int] = field(default_factory=dict)
    warmup: Dict[str, int] = field(default_factory=dict)

    @property
    def names(self) -> List[str]:
        return [case_name(g.name, s) for g, s, _ in self.cases] + list(self.suites)


def all_case_names(quick: bool = False) -> List[str]:
    return [case_name(g.name, s) for g in GROUPS for s in (g.quick_shapes if quick else g.shapes)] + list(SUITES)


def plan(patterns: Sequence[str] = (), peers: Sequence[str] = (), quick: bool = False,
         repeats: Optional[int] = None, shapes: Sequence[Tuple[int, int]] = ()) -> Plan:
    """Select cases by name (shell patterns on ``group/shape`` or a suite name; a bare group name selects all
    its shapes) and peers by name (``all`` adds the peers that are off by default). ``shapes`` replaces the
    shapes of the selected model groups (not the GEMM). Raises ValueError naming what matched nothing."""
    wanted_peers = set(peers)
    every_peer = "all" in wanted_peers
    wanted_peers.discard("all")
    known_peers = {p.name for g in GROUPS for p in g.peers}
    unknown = sorted(wanted_peers - known_peers)
    if unknown:
        raise ValueError(f"unknown peer(s) {unknown}; known: {sorted(known_peers)}")
    result = Plan()
    matched = set()
    for g in GROUPS:
        group_shapes = g.quick_shapes if quick else g.shapes
        if shapes and g.name != "gemm":
            group_shapes = tuple(tuple(s) for s in shapes)
        for shape in group_shapes:
            name = case_name(g.name, shape)
            hits = [p for p in patterns if fnmatch.fnmatchcase(name, p) or p == g.name]
            if patterns and not hits:
                continue
            matched.update(hits)
            chosen = [p for p in g.peers if every_peer or (p.name in wanted_peers if wanted_peers else p.default)]
            if chosen:
                result.cases.append((g, tuple(shape), chosen))
        result.repeats[g.name] = repeats or (QUICK_REPEATS if quick else g.repeats)
        result.warmup[g.name] = QUICK_WARMUP if quick else g.warmup
    for suite in SUITES:
        hits = [p for p in patterns if fnmatch.fnmatchcase(suite, p)]
        if not patterns or hits:
            matched.update(hits)
            result.suites.append(suite)
    missing = [p for p in patterns if p not in matched]
    if missing:
        raise ValueError(f"no benchmark case matches {missing}; cases: {all_case_names(quick)}")
    return result


# -------------------------------------------------------------------------------------------------- repeat order


def interleaved_order(peers: Sequence[str], repeats: int) -> List[Tuple[int, str]]:
    """The order of the timed runs: round-robin over the peers, one run each per repeat, the starting peer
    rotating by one each repeat (so no peer always runs first, right after the idle gap, or last). Every peer
    gets exactly ``repeats`` runs, and a burst of background load falls on all peers alike."""
    peers = list(peers)
    order = []
    for repeat in range(repeats):
        start = repeat % len(peers) if peers else 0
        order.extend((repeat, peer) for peer in peers[start:] + peers[:start])
    return order


def summarize(samples: Sequence[float]) -> Dict[str, float]:
    """Median, min, max and interquartile range of timed runs (seconds). The median is the number reported:
    robust to the odd slow run on a shared machine, where a minimum would reward lucky outliers."""
    if not samples:
        raise ValueError("summarize() needs at least one sample")
    values = sorted(float(s) for s in samples)
    if len(values) >= 2:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    else:
        q1 = q3 = values[0]
    return {"median": statistics.median(values), "min": values[0], "max": values[-1], "q1": q1, "q3": q3,
            "n": len(values)}


# -------------------------------------------------------------------------------------------------- FLOPs


def _attr(config: Any, name: str) -> Any:
    return config[name] if isinstance(config, Mapping) else getattr(config, name)


def _config_numbers(config: Any) -> Dict[str, Any]:
    """The numbers the FLOP count needs, from a DebertaConfig or a config.json dict."""
    e = _attr(config, "hidden_size")
    embedding = _attr(config, "embedding_size") or e
    pos_att = _attr(config, "pos_att_type") or []
    if isinstance(pos_att, str):
        pos_att = [p.strip() for p in pos_att.lower().split("|") if p.strip()]
    span = _attr(config, "max_relative_positions")
    if span < 1:
        span = _attr(config, "max_position_embeddings")
    return dict(e=e, embedding=embedding, layers=_attr(config, "num_hidden_layers"),
                heads=_attr(config, "num_attention_heads"), ffn=_attr(config, "intermediate_size"),
                relative=bool(_attr(config, "relative_attention")), pos_att=list(pos_att), span=span,
                pooler=_attr(config, "pooler_hidden_size") or e)


def forward_flops(config: Any, batch: int, seq: int, relative_projections: bool = False) -> int:
    """Minimum floating-point operations (2 per multiply-add) of the encoder's matrix products for one forward.

    Per layer: the fused q/k/v projection and the output projection (2 * tokens * e * 4e), the feed-forward
    (2 * 2 * tokens * e * f), and per head the content scores Q K^T and the context A V (2 * s * s * d each)
    plus one more [s, s] product per relative term (c2p, p2c) - the minimum, as if each term were computed
    only at the (i, j) pairs it is read at (an implementation that multiplies against all 2a relative rows does
    more). The projections of the relative-position table through pos_proj / pos_q_proj do not depend on the
    input, so inference can compute them once: excluded unless ``relative_projections``, in which case the
    2 * min(2s - 1, 2a) * e * e per term for the table rows a length-s input reads are added (training must
    redo them every step). The embedding projection counts when embedding_size != hidden_size. Softmax,
    LayerNorm, GELU and gathers are not matrix products and are not counted."""
    n = _config_numbers(config)
    e, layers, heads = n["e"], n["layers"], n["heads"]
    head_dim = e // heads
    tokens = batch * seq
    terms = len(n["pos_att"]) if n["relative"] else 0
    per_layer = 2 * tokens * e * (3 * e) + 2 * tokens * e * e + 2 * 2 * tokens * e * n["ffn"]
    per_layer += (2 + terms) * 2 * batch * heads * seq * seq * head_dim
    if relative_projections and terms:
        attention_span = min(seq, n["span"])
        rows = min(2 * seq - 1, 2 * attention_span)
        per_layer += terms * 2 * rows * e * e
    total = layers * per_layer
    if n["embedding"] != e:
        total += 2 * tokens * n["embedding"] * e
    return int(total)


def train_flops(config: Any, batch: int, seq: int, num_labels: int = 2) -> int:
    """A training step of the sequence classifier: 3x the forward's matrix products (the backward computes
    two products per forward product: the input's gradient and the weight's), counting the relative-position
    projections (the weights change every step), plus the pooler and classifier on the first token."""
    n = _config_numbers(config)
    head = 2 * batch * n["e"] * n["pooler"] + 2 * batch * n["pooler"] * num_labels
    return 3 * (forward_flops(config, batch, seq, relative_projections=True) + head)


def gemm_flops(m: int, k: int, n: int) -> int:
    return 2 * m * k * n


def case_flops(group_: Group, shape: Sequence[int], config: Any) -> int:
    if group_.flops == "gemm":
        return gemm_flops(*shape)
    if group_.flops == "train":
        return train_flops(config, *shape)
    return forward_flops(config, *shape)


# -------------------------------------------------------------------------------------------------- inputs


def padded_lengths(batch: int, seq: int, seed: int = 0) -> List[int]:
    """Valid lengths of a dynamically padded batch, as a tokenizer with ``padding=True`` makes them: the batch
    is as long as its longest row (the first), the others are 25-100 % of it (seeded). A batch of one has no
    padding."""
    import random

    rng = random.Random(seed * 1_000_003 + batch * 10_007 + seq)
    low = max(1, seq // 4)
    return [seq] + [rng.randint(low, seq) for _ in range(batch - 1)]


def make_inputs(vocab_size: int, batch: int, seq: int, seed: int = 0) -> Dict[str, Any]:
    """input_ids and attention_mask (int64 NumPy) with padding from padded_lengths (pad id 0, as the tokenizer)
    and random ids elsewhere; the same arrays for every peer of a case."""
    import numpy as np

    rng = np.random.default_rng(seed * 7919 + batch * 131 + seq)
    ids = rng.integers(5, vocab_size, size=(batch, seq), dtype=np.int64)
    mask = np.zeros((batch, seq), dtype=np.int64)
    for row, length in enumerate(padded_lengths(batch, seq, seed)):
        mask[row, :length] = 1
    return {"input_ids": ids * mask, "attention_mask": mask}


def read_config(folder: str) -> Dict[str, Any]:
    """The config.json of a prepared checkpoint folder, as a dict."""
    import json
    import os

    with open(os.path.join(folder, "config.json"), encoding="utf-8") as handle:
        return json.load(handle)


def make_labels(batch: int, num_labels: int = 2, seed: int = 0) -> Any:
    import numpy as np

    return np.random.default_rng(seed + batch).integers(0, num_labels, size=(batch,), dtype=np.int64)


# -------------------------------------------------------------------------------------------------- results


def ratio(baseline_s: Optional[float], peer_s: Optional[float]) -> Optional[float]:
    """Baseline time / peer time (> 1: the peer is faster); None when either is missing."""
    if not baseline_s or not peer_s:
        return None
    return baseline_s / peer_s


def best_ours(case: Mapping[str, Any], group_: Group) -> Optional[str]:
    """The fastest of our peers that produced a time in a case result ({peers: {name: {...}}})."""
    timed = [(r["time"]["median"], name) for name, r in case["peers"].items()
             if r.get("time") and group_.peer(name).ours]
    return min(timed)[1] if timed else None


@dataclass(frozen=True)
class Target:
    """A goal of issue 10: ``other`` median time / ``ours`` median time >= ``speed``; optionally the peak RSS
    of ours <= ``rss`` x other's. ``ours`` may be ``best`` (the fastest of our peers in the case)."""

    case: str
    other: str
    speed: float
    ours: str = "best"
    rss: Optional[float] = None


TARGETS = (
    Target("forward/b8_s128", "reference", 1.3),
    Target("forward/b1_s512", "reference", 1.8),
    Target("forward/b1_s2048", "reference", 3.0, rss=0.7),
    Target("forward/b8_s128", "onnxruntime", 1.1),
    Target("forward/b1_s512", "onnxruntime", 1.1),
    # torch.compile is not slower than eager, at every shape
    *(Target(case_name("forward", shape), "ours", 1.0, ours="ours-compile") for shape in group("forward").shapes),
    Target("train/b8_s128", "reference", 1.2, ours="ours", rss=0.8),
    Target("train/b1_s1024", "reference", 1.5, ours="ours", rss=0.8),
    Target("keras-forward/b8_s128", "reference-graph", 1.2, ours="ours-graph"),
    Target("keras-forward/b1_s512", "reference-graph", 1.6, ours="ours-graph"),
    Target("keras-forward/b8_s128", "reference-graph", 1.3, ours="ours-xla"),
    Target("keras-forward/b1_s512", "reference-graph", 1.8, ours="ours-xla"),
    Target("keras-fit/b8_s128", "reference", 1.2, ours="best"),
)


def check_targets(cases: Mapping[str, Mapping[str, Any]], targets: Iterable[Target] = TARGETS) -> List[Dict[str, Any]]:
    """Each target whose case ran: the measured ratio (and RSS ratio) and whether it is met; a missing time
    (a peer that failed) is reported as not measured."""
    rows = []
    for target in targets:
        case = cases.get(target.case)
        if case is None:
            continue
        group_ = group(target.case.split("/")[0])
        ours = best_ours(case, group_) if target.ours == "best" else target.ours
        ours_run = case["peers"].get(ours or "", {})
        other_run = case["peers"].get(target.other, {})
        row: Dict[str, Any] = {"case": target.case, "ours": ours or "(none)", "other": target.other,
                               "target": target.speed, "rss_target": target.rss}
        speed = ratio((other_run.get("time") or {}).get("median"), (ours_run.get("time") or {}).get("median"))
        row["ratio"] = speed
        met = speed is not None and speed >= target.speed
        if target.rss is not None:
            rss = None
            if ours_run.get("peak_rss") and other_run.get("peak_rss"):
                rss = ours_run["peak_rss"] / other_run["peak_rss"]
            row["rss_ratio"] = rss
            met = met and rss is not None and rss <= target.rss
        row["met"] = met if speed is not None else None
        rows.append(row)
    return rows
