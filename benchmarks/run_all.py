"""`make bench`: every benchmark in one run, each peer against the others, each (case, peer) in its own process.

    python -m benchmarks.run_all                       # everything; rewrites docs/benchmarks.md (+ plot, README line)
    python -m benchmarks.run_all --quick               # one small shape per group, 2 repeats
    python -m benchmarks.run_all --cases 'forward/*' train/b8_s128 --peers ours,reference
    python -m benchmarks.run_all --list                # the cases and peers
    python -m benchmarks.run_all --render bench_results/latest.json   # re-render a saved run

The cases, peers and FLOP counts are in benchmarks/harness.py, the peers themselves in bench_torch.py,
bench_keras.py and bench_gemm.py, the worker protocol in worker.py, the page in report.py + template.md.
This process imports no framework: it writes the shared weights in one worker (benchmarks/prepare.py), then
for each case starts one worker per peer, waits until all are warm, and sends them ``run`` in interleaved
order. A peer that fails (at load, warm-up or any run) becomes an error cell and the others go on; the exit
status is 1 when one of our peers or a suite failed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from typing import Any, Dict, List, Optional, Sequence, Tuple

from benchmarks import harness, report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS_PAGE = os.path.join(ROOT, "docs", "benchmarks.md")
README = os.path.join(ROOT, "README.md")
SETUP_TIMEOUT_S = 1800  # loading + warm-up of one worker (torch.compile / XLA of a long sequence on 2 cores)
RUN_TIMEOUT_S = 900  # one timed run
SUITE_TIMEOUT_S = 3600
LIBRARIES = ("torch", "transformers", "tensorflow", "keras", "tf-keras", "onnxruntime", "onnx", "numpy",
             "tokenizers")


# -------------------------------------------------------------------------------------------------- machine


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            info = handle.read()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                platform.machine())
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    isa = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name} ({cores} cores available{', ' + ' '.join(isa) if isa else ''})"


def load_average() -> str:
    try:
        with open("/proc/loadavg", encoding="utf-8") as handle:
            return handle.read().split()[0]
    except OSError:
        return "?"


def versions() -> Dict[str, Optional[str]]:
    found: Dict[str, Optional[str]] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if onednn is not None:
        found["TF_ENABLE_ONEDNN_OPTS"] = onednn
    return found


def worker_env(process: str, threads: int) -> Dict[str, str]:
    """The environment of a worker: thread pools fixed, no GPU, and the Keras flavour of its process."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
    env.pop("TF_USE_LEGACY_KERAS", None)
    if process == "tf-reference":  # the reference's 4.x TF classes run on tf-keras (Keras 2)
        env.update(TF_USE_LEGACY_KERAS="1", USE_TF="1", USE_TORCH="0")
    elif process == "keras":
        env.update(KERAS_BACKEND="tensorflow", USE_TORCH="0")
    else:  # torch / plain: transformers must not import TensorFlow beside torch
        env.update(USE_TF="0")
    return env


# -------------------------------------------------------------------------------------------------- workers


class WorkerError(RuntimeError):
    pass


class Worker:
    """A child process speaking benchmarks/worker.py's JSON-lines protocol; stderr goes to ``log_path``."""

    def __init__(self, spec: Dict[str, Any], threads: int, log_path: str) -> None:
        self.log_path = log_path
        self.log = open(log_path, "w", encoding="utf-8")
        spec = dict(spec, threads=threads)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker", json.dumps(spec)], cwd=ROOT,
            env=worker_env(spec.get("process", "plain"), threads), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, text=True, bufsize=1,
        )
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def log_tail(self, lines: int = 6) -> str:
        self.log.flush()
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                tail = [line.rstrip() for line in handle.read().splitlines() if line.strip()][-lines:]
        except OSError:
            return ""
        return " / ".join(tail)

    def receive(self, timeout: float) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise WorkerError(f"no answer within {timeout:.0f} s (killed); log: {self.log_tail()}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait()
                raise WorkerError(f"worker exited with status {code}; log: {self.log_tail()}")
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue  # not a protocol line

    def request(self, command: str, event: str, timeout: float) -> Dict[str, Any]:
        """Send ``command`` and return the answer, which must be ``event`` (else WorkerError with its message)."""
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except OSError as err:
            raise WorkerError(f"could not send {command!r}: {err}; log: {self.log_tail()}") from err
        message = self.receive(timeout)
        if message.get("event") != event:
            raise WorkerError(message.get("message", repr(message)))
        return message

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.stdin.close()
                self.proc.wait(timeout=60)
        except (subprocess.TimeoutExpired, OSError):
            self.kill()
        self.log.close()


def run_suite(name: str, options: Dict[str, Any], threads: int, logs: str) -> Dict[str, Any]:
    runner, process = harness.SUITES[name] if name in harness.SUITES else (name, "torch")
    worker = Worker({"suite": runner, "options": options, "process": process}, threads,
                    os.path.join(logs, f"suite_{name.replace(':', '_').replace('.', '_')}.log"))
    try:
        message = worker.receive(SUITE_TIMEOUT_S)
    except WorkerError as err:
        return {"error": str(err)}
    finally:
        worker.close()
    if message.get("event") != "result":
        return {"error": message.get("message", repr(message))}
    return message


# -------------------------------------------------------------------------------------------------- one case


def _checkpoint_for(g: harness.Group, peer: harness.Peer, folders: Dict[str, str]) -> Optional[str]:
    family = "tf" if peer.process in ("keras", "tf-reference") else "pt"
    return folders.get(f"{g.checkpoint}_{family}")


def max_abs_diff(a_path: str, b_path: str, mask) -> float:
    import numpy as np

    a, b = np.load(a_path), np.load(b_path)
    if a.shape != b.shape:
        raise ValueError(f"output shapes differ: {a.shape} vs {b.shape}")
    valid = mask.astype(bool)
    return float(np.abs(a[valid] - b[valid]).max())


def run_case(g: harness.Group, shape: Tuple[int, ...], peers: Sequence[harness.Peer], repeats: int, warmup: int,
             threads: int, folders: Dict[str, str], config: Optional[Dict[str, Any]], work: str, logs: str,
             say=print) -> Dict[str, Any]:
    name = harness.case_name(g.name, shape)
    started = time.perf_counter()
    case: Dict[str, Any] = {"group": g.name, "shape": list(shape), "repeats": repeats, "warmup": warmup,
                            "baseline": g.baseline, "load_before": load_average(), "peers": {}}
    case["flops"] = harness.case_flops(g, shape, config) if config is not None or g.flops == "gemm" else None
    workers: Dict[str, Worker] = {}
    tag = name.replace("/", "_")
    starting: Dict[str, Worker] = {}
    for peer in peers:  # all start at once (loading and compiling are not timed): the case is ready sooner
        case["peers"][peer.name] = {"label": peer.title, "samples": []}
        spec = {"runner": peer.runner, "options": dict(peer.options), "process": peer.process, "shape": list(shape),
                "checkpoint": _checkpoint_for(g, peer, folders), "onnx": folders.get("onnx"), "warmup": warmup,
                "output_path": os.path.join(work, f"out_{tag}_{peer.name}.npy") if g.compare_outputs else None}
        starting[peer.name] = Worker(spec, threads, os.path.join(logs, f"{tag}__{peer.name}.log"))
    for peer in peers:
        run, worker = case["peers"][peer.name], starting[peer.name]
        try:
            message = worker.receive(SETUP_TIMEOUT_S)
        except WorkerError as err:
            message = {"event": "error", "kind": "error", "message": str(err)}
        if message.get("event") != "ready":
            run["unavailable" if message.get("kind") == "unavailable" else "error"] = message.get("message")
            worker.close()
            say(f"   {peer.name}: {'n/a' if message.get('kind') == 'unavailable' else 'FAILED'}: "
                f"{report.cell(report.short_error(message.get('message', '')), 300)}")
            continue
        run.update(setup_s=message["setup_s"], warmup_s=message["warmup_s"], info=message.get("info", {}))
        say(f"   {peer.name}: ready (setup {message['setup_s']:.1f} s, warm-up "
            + ", ".join(f"{s:.2f}" for s in message["warmup_s"]) + " s)")
        workers[peer.name] = worker
    order = harness.interleaved_order(list(workers), repeats)
    case["order"] = [peer for _, peer in order]
    for _, peer_name in order:
        worker = workers.get(peer_name)
        if worker is None:  # failed in an earlier repeat
            continue
        run = case["peers"][peer_name]
        try:
            run["samples"].append(worker.request("run", "time", RUN_TIMEOUT_S)["s"])
        except WorkerError as err:
            run["error"] = f"failed in a timed run: {err}"
            say(f"   {peer_name}: FAILED in a timed run: {report.cell(str(err), 300)}")
            worker.kill()
            worker.close()
            del workers[peer_name]
    for peer_name, worker in workers.items():
        run = case["peers"][peer_name]
        try:
            message = worker.request("end", "done", RUN_TIMEOUT_S)
            run.update(peak_rss=message.get("peak_rss"), vm_hwm=message.get("vm_hwm"), output=message.get("output"),
                       peak_is_run_only=message.get("peak_is_run_only"))
        except WorkerError as err:
            run["error"] = f"failed at the end: {err}"
        finally:
            worker.close()
    case["load_after"] = load_average()
    finish_case(case, g, shape, config)
    case["wall_s"] = time.perf_counter() - started
    return case


def finish_case(case: Dict[str, Any], g: harness.Group, shape: Sequence[int], config: Optional[Dict[str, Any]]) -> None:
    """Statistics, GFLOP/s, ratios against the baseline and output differences, from the raw samples."""
    for run in case["peers"].values():
        if run["samples"] and not run.get("error"):
            run["time"] = harness.summarize(run["samples"])
            if case["flops"]:
                run["gflops"] = case["flops"] / run["time"]["median"] / 1e9
    base = case["peers"].get(g.baseline, {})
    mask = None
    if g.compare_outputs and config is not None:
        mask = harness.make_inputs(config["vocab_size"], *shape)["attention_mask"]
    for name, run in case["peers"].items():
        if not run.get("time"):
            continue
        run["speedup"] = harness.ratio((base.get("time") or {}).get("median"), run["time"]["median"])
        if run.get("peak_rss") and base.get("peak_rss") and base.get("time"):
            run["rss_ratio"] = run["peak_rss"] / base["peak_rss"]
        if mask is not None and run.get("output") and base.get("output"):
            try:
                run["max_abs_diff"] = max_abs_diff(run["output"], base["output"], mask)
            except (OSError, ValueError) as err:
                run["diff_error"] = str(err)


# -------------------------------------------------------------------------------------------------- main


def parse_shapes(text: str) -> List[Tuple[int, int]]:
    try:
        return [tuple(int(n) for n in item.lower().split("x")) for item in text.split(",") if item]
    except ValueError:
        raise argparse.ArgumentTypeError(f"shapes are BATCHxSEQ separated by commas (8x128,1x512), got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one small shape per group, 2 repeats, 1 warm-up")
    parser.add_argument("--cases", nargs="+", default=[], metavar="PATTERN",
                        help="case names or shell patterns (forward, 'forward/b8_*', keras-fit, tokenizer, ...)")
    parser.add_argument("--peers", default="", help="comma-separated peer names (all: every peer, also the "
                        "ones off by default); default: the default peers")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per peer (default: per group)")
    parser.add_argument("--shapes", type=parse_shapes, default=[], help="replace the model groups' shapes: 8x128,1x512")
    parser.add_argument("--threads", type=int, default=None, help="threads per worker (default: the cores available)")
    parser.add_argument("--preset", default="deberta-base", help="model shape (deberta_core.presets)")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench_results"), help="results folder")
    parser.add_argument("--docs", dest="docs", action="store_true", default=None,
                        help="also rewrite docs/benchmarks.md, its plot and the README speed line (default: only "
                             "for a full run)")
    parser.add_argument("--no-docs", dest="docs", action="store_false")
    parser.add_argument("--keep", default=None, metavar="DIR", help="write the shared weights here and keep them")
    parser.add_argument("--list", action="store_true", help="print the cases and peers and exit")
    parser.add_argument("--render", default=None, metavar="JSON", help="re-render the page and plot of a saved run")
    return parser


def write_outputs(results: Dict[str, Any], out: str, docs: bool, say=print) -> None:
    os.makedirs(out, exist_ok=True)
    results["plot"] = report.plot(results, os.path.join(out, "benchmarks.png"))
    page = report.render_markdown(results)
    with open(os.path.join(out, "benchmarks.md"), "w", encoding="utf-8") as handle:
        handle.write(page)
    say(f"page: {os.path.join(out, 'benchmarks.md')}")
    if docs:
        with open(DOCS_PAGE + ".tmp", "w", encoding="utf-8") as handle:
            handle.write(page)
        os.replace(DOCS_PAGE + ".tmp", DOCS_PAGE)
        if results["plot"]:
            shutil.copyfile(os.path.join(out, "benchmarks.png"),
                            os.path.join(os.path.dirname(DOCS_PAGE), "benchmarks.png"))
        updated = report.update_readme(README, report.readme_speed_line(results))
        say(f"wrote {DOCS_PAGE}" + (" and the README speed line" if updated else " (no README speed line found)"))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.render:
        with open(args.render, encoding="utf-8") as handle:
            results = json.load(handle)
        write_outputs(results, args.out, bool(args.docs))
        return 0
    peers = [p for p in args.peers.split(",") if p]
    try:
        plan = harness.plan(args.cases, peers, args.quick, args.repeats, args.shapes)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.list:
        for g, shape, chosen in plan.cases:
            print(f"{harness.case_name(g.name, shape):28s} {', '.join(p.name for p in chosen)}")
        for suite in plan.suites:
            print(suite)
        return 0
    full = not (args.quick or args.cases or peers or args.repeats or args.shapes) and args.preset == "deberta-base"
    docs = full if args.docs is None else args.docs
    threads = args.threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    started = time.perf_counter()
    given = list(argv) if argv is not None else sys.argv[1:]
    command = "make bench" if full else "python -m benchmarks.run_all " + " ".join(given)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "command": command,
            "cpu": cpu_model(), "threads": threads, "versions": versions(), "preset": args.preset,
            "platform": platform.platform(), "load_before": load_average(), "quick": args.quick}
    print(f"make bench: {meta['cpu']}, {threads} threads, {meta['date']}, load {meta['load_before']}")
    print("versions: " + report.versions_line(meta), flush=True)
    os.makedirs(args.out, exist_ok=True)
    logs = os.path.join(args.out, "logs")
    os.makedirs(logs, exist_ok=True)
    work = args.keep or tempfile.mkdtemp(prefix="deberta-bench-")
    os.makedirs(work, exist_ok=True)
    results: Dict[str, Any] = {"meta": meta, "cases": {}, "suites": {}}
    failed: List[str] = []

    def say(text: str) -> None:
        print(text, flush=True)

    try:
        model_groups = {g.name for g, _, _ in plan.cases if g.flops != "gemm"}
        needs = {
            "forward": bool(model_groups & {"forward", "keras-forward"}) or "profile" in plan.suites,
            "train": bool(model_groups & {"train", "keras-fit"}),
            "keras": bool(model_groups & {"keras-forward", "keras-fit"}),
            "onnx": any(p.name == "onnxruntime" for g, _, chosen in plan.cases if g.name == "forward" for p in chosen),
        }
        folders: Dict[str, str] = {}
        if any(needs.values()):
            say(f"== prepare: weights ({args.preset}) in {work}")
            prepared = run_suite("benchmarks.prepare:prepare", dict(work=work, preset=args.preset, **needs), threads,
                                 logs)
            results["prepare"] = prepared
            if prepared.get("error"):
                say(f"   FAILED: {prepared['error']}")
                failed.append("prepare")
            else:
                folders = prepared["result"]["folders"]
                say("   " + ", ".join(f"{k} {v:.1f} s" for k, v in prepared["result"]["timings"].items()))
        weights = folders.get("base_pt") or folders.get("cls_pt")
        config = harness.read_config(weights) if weights else None
        for g, shape, chosen in plan.cases:
            name = harness.case_name(g.name, shape)
            say(f"== {name}: {', '.join(p.name for p in chosen)} ({plan.repeats[g.name]} repeats)")
            if g.flops != "gemm" and not folders:
                case = {"group": g.name, "shape": list(shape), "repeats": 0, "warmup": 0, "flops": None,
                        "peers": {p.name: {"label": p.title, "samples": [], "error": "no weights (prepare failed)"}
                                  for p in chosen}}
            else:
                case = run_case(g, shape, chosen, plan.repeats[g.name], plan.warmup[g.name], threads, folders,
                                config, work, logs, say)
            results["cases"][name] = case
            for peer_name, run in case["peers"].items():
                if run.get("error") and g.peer(peer_name).ours:
                    failed.append(f"{name} {peer_name}")
            say(report.group_table(g, [case]))
        for suite in plan.suites:
            say(f"== {suite}")
            options: Dict[str, Any] = {"quick": args.quick}
            if suite == "profile":
                if "base_pt" not in folders:
                    results["suites"][suite] = {"error": "no weights (prepare failed)"}
                    failed.append(suite)
                    continue
                options = {"checkpoint": folders["base_pt"], "shape": [1, 512], "out_dir": os.path.abspath(args.out),
                           "iterations": 1 if args.quick else 3}
            outcome = run_suite(suite, options, threads, logs)
            results["suites"][suite] = outcome
            if outcome.get("error"):
                failed.append(suite)
                say(f"   FAILED: {outcome['error']}")
            else:
                say(report.suite_section(suite, outcome))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    meta["load_after"] = load_average()
    meta["wall_s"] = time.perf_counter() - started
    results["targets"] = harness.check_targets(results["cases"])
    if results["targets"]:
        say("== targets\n" + report.targets_table(results["targets"]))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    for path in (os.path.join(args.out, "latest.json"), os.path.join(args.out, f"bench-{stamp}.json")):
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1, default=str)
    write_outputs(results, args.out, docs, say)
    say(f"wall time {meta['wall_s'] / 60:.1f} min; results: {os.path.join(args.out, 'latest.json')}")
    if failed:
        print(f"FAILED (ours or a suite): {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
