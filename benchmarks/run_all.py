"""`make bench`: every benchmark in one run, against the reference where there is one, reported as ratios.

Writes bench_results/latest.json and prints a summary. Ratios are reference time / our time (> 1: faster).
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time

BENCHMARKS = ["bench_tokenizer", "bench_torch", "bench_convert"]


def main(argv=None) -> int:
    names = (argv or sys.argv[1:]) or BENCHMARKS
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()}}
    failed = []
    for name in names:
        started = time.time()
        print(f"== {name}", flush=True)
        try:
            results[name] = importlib.import_module(f"benchmarks.{name}").main()
        except Exception as err:  # one broken benchmark must not hide the others' numbers
            results[name] = {"error": f"{type(err).__name__}: {err}"}
            failed.append(name)
        results[name]["wall_s"] = round(time.time() - started, 1)
        print(json.dumps(results[name], indent=2, default=str), flush=True)
    os.makedirs("bench_results", exist_ok=True)
    with open(os.path.join("bench_results", "latest.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2, default=str)
    if failed:
        print(f"benchmarks that failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
