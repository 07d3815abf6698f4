"""The PyTorch peers of `make bench`: forward (inference) and training step, ours against the reference
implementation (transformers' PyTorch DebertaModel / DebertaForSequenceClassification) and ONNX Runtime running
our own export, plus the torch.profiler comparison.

Each function here runs inside a worker process (benchmarks/worker.py) and returns a ``Runner`` whose
``step()`` is one timed run; the worker has already fixed torch's thread count. All peers load the same
checkpoint (written once per run by benchmarks/prepare.py) and get the same inputs (harness.make_inputs).
Run: ``python -m benchmarks.run_all --cases forward train`` (``--quick`` for one small shape).
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from benchmarks.harness import Runner, Unavailable, make_inputs, make_labels, read_config


def _inputs(spec: Dict[str, Any]) -> Dict[str, torch.Tensor]:
    batch, seq = spec["shape"]
    arrays = make_inputs(read_config(spec["checkpoint"])["vocab_size"], batch, seq)
    return {k: torch.from_numpy(v) for k, v in arrays.items()}


# ------------------------------------------------------------------------------------------------- forward


def _forward_runner(model, inputs: Dict[str, torch.Tensor], info: Optional[Dict[str, Any]] = None) -> Runner:
    def step():
        with torch.inference_mode():
            return model(**inputs).last_hidden_state

    return Runner(step, output=lambda: step().numpy(), info=info or {})


def forward_ours(spec: Dict[str, Any], compile: bool = False, transform: Optional[str] = None,
                 frozen: bool = False) -> Runner:
    """deberta_torch.DebertaModel in eval mode; ``frozen``: with ``freeze_relative_tables()`` (the serving switch;
    default: tables projected per call); ``transform`` ("module.function") is a fast-inference entry point
    of the package applied to the eval model (the returned callable is timed); ``compile``: torch.compile with
    fullgraph=True, which raises at the first call on any graph break, and no recompilation allowed after the
    warm-up (a recompile while timing fails the case instead of being timed)."""
    import deberta_torch

    model = deberta_torch.DebertaModel.from_pretrained(spec["checkpoint"]).eval()
    info: Dict[str, Any] = {}
    if frozen:
        model.freeze_relative_tables()
    if transform:
        module, _, name = transform.rpartition(".")
        function = getattr(importlib.import_module(module), name, None)
        if function is None:
            raise Unavailable(f"{module} has no {name}")
        model = function(model)
    if not compile:
        return _forward_runner(model, _inputs(spec))
    import torch._dynamo

    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    runner = _forward_runner(compiled, _inputs(spec), info)
    first_step = runner.step

    def step():
        out = first_step()
        if not info:  # after the first (compiling) call: no graph break, one graph, and no recompiles from now on
            from torch._dynamo.utils import counters

            breaks = dict(counters["graph_break"])
            if breaks:
                raise RuntimeError(f"torch.compile(fullgraph=True) reported graph breaks: {breaks}")
            info["graphs"] = int(counters["stats"]["unique_graphs"])
            torch._dynamo.config.error_on_recompile = True
        return out

    runner.step = step
    return runner


def forward_reference(spec: Dict[str, Any]) -> Runner:
    import transformers

    model = transformers.DebertaModel.from_pretrained(spec["checkpoint"]).eval()
    return _forward_runner(model, _inputs(spec))


def forward_onnxruntime(spec: Dict[str, Any]) -> Runner:
    """ONNX Runtime (CPU provider, all graph optimisations) on our model exported by torch.onnx (dynamo) with
    dynamic batch and sequence; intra-op threads as torch's, one inter-op thread, sequential execution."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = spec["threads"]
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    session = onnxruntime.InferenceSession(spec["onnx"], options, providers=["CPUExecutionProvider"])
    feed = {k: v.numpy() for k, v in _inputs(spec).items()}

    def step():
        return session.run(None, feed)[0]

    return Runner(step, output=step, info={"onnxruntime": onnxruntime.__version__})


# ------------------------------------------------------------------------------------------------- training


def _train_runner(model, spec: Dict[str, Any], gradient_checkpointing: bool) -> Runner:
    """One optimizer step: zero_grad, forward with labels (the head's loss), backward, AdamW.step()."""
    torch.manual_seed(0)  # dropout masks
    model.train()
    if gradient_checkpointing:
        model.gradient_checkpointing_enable()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
    inputs = _inputs(spec)
    labels = torch.from_numpy(make_labels(spec["shape"][0], model.config.num_labels))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = model(**inputs, labels=labels).loss
        loss.backward()
        optimizer.step()
        return loss

    return Runner(step, info={"gradient_checkpointing": gradient_checkpointing})


def train_ours(spec: Dict[str, Any], gradient_checkpointing: bool = False) -> Runner:
    import deberta_torch

    model = deberta_torch.DebertaForSequenceClassification.from_pretrained(spec["checkpoint"])
    return _train_runner(model, spec, gradient_checkpointing)


def train_reference(spec: Dict[str, Any], gradient_checkpointing: bool = False) -> Runner:
    import transformers

    model = transformers.DebertaForSequenceClassification.from_pretrained(spec["checkpoint"])
    return _train_runner(model, spec, gradient_checkpointing)


# ------------------------------------------------------------------------------------------------- profile

def _profile_round(model, inputs) -> Dict[str, Any]:
    """One profiled forward: {op: (self CPU ms, calls)} and the profiler's own table."""
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
        model(**inputs)
    averages = prof.key_averages()
    ops = {e.key: (e.self_cpu_time_total / 1e3, e.count) for e in averages}
    return {"ops": ops, "table": averages.table(sort_by="self_cpu_time_total", row_limit=40, max_name_column_width=60)}


def profile_suite(checkpoint: str, shape: List[int], out_dir: str, iterations: int = 3) -> Dict[str, Any]:
    """torch.profiler on ours and on the reference at one shape (same weights and inputs), one profiled forward
    of each per round, rounds alternating between the two (after one warm-up forward each), so background load
    falls on both alike. Per op: the median over the rounds of its self CPU time. Writes, per side, the
    profiler's table of the last round and the medians to ``out_dir``."""
    import statistics

    import deberta_torch
    import transformers

    inputs = _inputs({"checkpoint": checkpoint, "shape": shape})
    models = {"ours": deberta_torch.DebertaModel.from_pretrained(checkpoint).eval(),
              "reference": transformers.DebertaModel.from_pretrained(checkpoint).eval()}
    rounds: Dict[str, List[Dict[str, Any]]] = {name: [] for name in models}
    with torch.inference_mode():
        for model in models.values():
            model(**inputs)
    for _ in range(iterations):
        for name, model in models.items():
            rounds[name].append(_profile_round(model, inputs))
    tag = "b{}_s{}".format(*shape)
    result: Dict[str, Any] = {"shape": list(shape), "iterations": iterations}
    for name, runs in rounds.items():
        keys = set().union(*(r["ops"] for r in runs))
        ops = [{"op": key, "self_ms": statistics.median(r["ops"].get(key, (0.0, 0))[0] for r in runs),
                "calls": max(r["ops"].get(key, (0.0, 0))[1] for r in runs)} for key in keys]
        ops = sorted((op for op in ops if op["self_ms"] > 0), key=lambda op: -op["self_ms"])
        path = os.path.join(out_dir, f"profile_{name}_{tag}.txt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(f"{name}, shape {tuple(shape)}: median over {iterations} rounds of self CPU ms per forward\n")
            handle.writelines(f"{op['self_ms']:10.2f} ms {op['calls']:6d}  {op['op']}\n" for op in ops)
            handle.write("\nlast round, torch.profiler table:\n" + runs[-1]["table"])
        result[name] = {"total_self_ms": statistics.median(sum(ms for ms, _ in r["ops"].values()) for r in runs),
                        "ops": ops, "table": path}
    return result


if __name__ == "__main__":
    import sys

    from benchmarks.run_all import main

    sys.exit(main(["--cases", "forward", "train", "profile", *sys.argv[1:]]))
