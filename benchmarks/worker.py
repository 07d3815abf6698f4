"""One benchmark worker process: builds one peer for one case, warms it up, then times single runs on demand.

``python -m benchmarks.worker SPEC_JSON``, started by benchmarks/run_all.py, one process per (case, peer), so
the peak RSS it reports (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is that peer's own. Three peaks:
``load_peak_rss`` after building the peer (loading the weights), ``warmup_peak_rss`` after the warm-up
(compilation included), and ``peak_rss``, the peak over the timed runs only: on Linux the high-water mark is
reset after the warm-up (``/proc/self/clear_refs``), so ``peak_rss`` is the memory of running the model - the
weights and whatever the warm-up kept resident, plus each run's transient peak - not of loading or compiling
it (``peak_is_run_only`` says whether the reset worked). The parent keeps every worker of a case alive and sends
``run`` to each in turn, so the repeats of the peers interleave. Protocol: JSON lines on the worker's original
stdout (library output is moved to stderr, which the parent writes to a log file):

  worker -> {"event": "ready", "setup_s", "warmup_s": [...], "info"} | {"event": "error", "kind", "message"}
  parent -> "run"      worker -> {"event": "time", "s"}
  parent -> "end"      worker -> {"event": "done", "peak_rss", "vm_hwm", "peak_is_run_only", "output": path or null}

A suite (spec with "suite") runs a whole benchmark with its own protocol and answers
{"event": "result", "result", "peak_rss"}.

The spec: {"runner": "module:function", "options": {...}, "process": ..., "threads": n, "shape": [...],
"checkpoint": folder, "onnx": path, "output_path": path or null, "warmup": n} (runners read what they need).
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
import traceback
from typing import Any, Callable, Dict

from benchmarks.harness import Unavailable


def resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def set_threads(process: str, threads: int) -> Dict[str, Any]:
    """Fix the framework's thread pools to ``threads`` (intra-op; TensorFlow's inter-op pool to 1, so graph
    mode does not run two multi-threaded ops at once on the same cores). Returns what is now set."""
    if process == "torch":
        import torch

        torch.set_num_threads(threads)
        return {"torch_threads": torch.get_num_threads()}
    if process in ("keras", "tf-reference"):
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        return {"tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
                "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads()}
    return {}


def peak_rss() -> Dict[str, int]:
    """ru_maxrss (KiB on Linux) as bytes, and /proc's VmHWM (the high-water mark of this address space) as a
    cross-check: ru_maxrss can also carry the RSS the parent had when it spawned this process, which is small
    here (the orchestrator imports no framework)."""
    result = {"peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    try:
        with open("/proc/self/status") as handle:
            result["vm_hwm"] = next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        pass
    return result


def reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark to its current RSS (Linux >= 4.0: writing 5 to clear_refs; both
    VmHWM and ru_maxrss follow). False where that is not possible (the peak then includes what came before)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def main(argv=None) -> int:
    spec = json.loads((argv or sys.argv[1:])[0])
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a library prints goes to the log, not into the protocol

    def send(**message: Any) -> None:
        channel.write(json.dumps(message, default=str) + "\n")
        channel.flush()

    started = time.perf_counter()
    try:
        info = set_threads(spec.get("process", "plain"), spec["threads"])
        if "suite" in spec:
            result = resolve(spec["suite"])(**spec.get("options", {}))
            send(event="result", result=result, wall_s=time.perf_counter() - started, info=info, **peak_rss())
            return 0
        runner = resolve(spec["runner"])(spec, **spec.get("options", {}))
        setup_s = time.perf_counter() - started
        info["load_peak_rss"] = peak_rss()["peak_rss"]
        warmup = []
        for _ in range(max(1, spec.get("warmup", 1))):  # the first run always: lazy init, compilation
            begin = time.perf_counter()
            runner.step()
            warmup.append(time.perf_counter() - begin)
        info.update(runner.info)
        info["warmup_peak_rss"] = peak_rss()["peak_rss"]
        run_only = reset_peak_rss()
    except Unavailable as err:
        send(event="error", kind="unavailable", message=str(err))
        return 0
    except BaseException as err:  # noqa: BLE001 - reported to the parent, which shows an error cell
        traceback.print_exc()
        send(event="error", kind="error", message=f"{type(err).__name__}: {err}".strip()[:2000])
        return 1
    send(event="ready", setup_s=setup_s, warmup_s=warmup, info=info)
    for line in sys.stdin:
        command = line.strip()
        try:
            if command == "run":
                begin = time.perf_counter()
                runner.step()
                send(event="time", s=time.perf_counter() - begin)
            elif command == "end":
                peaks = peak_rss()  # before the extra forward that output() may run
                output = None
                if spec.get("output_path") and runner.output is not None:
                    import numpy as np

                    np.save(spec["output_path"], np.asarray(runner.output()))
                    output = spec["output_path"]
                send(event="done", output=output, peak_is_run_only=run_only, **peaks)
                return 0
            else:
                send(event="error", kind="error", message=f"unknown command {command!r}; expected run or end")
        except BaseException as err:  # noqa: BLE001
            traceback.print_exc()
            send(event="error", kind="error", message=f"{type(err).__name__}: {err}".strip()[:2000])
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
