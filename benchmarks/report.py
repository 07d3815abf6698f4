"""Rendering of a `make bench` run: markdown tables, the docs/benchmarks.md page (from benchmarks/template.md),
the plot, and the README's speed line. Pure functions of the results dict that benchmarks/run_all.py writes to
bench_results/latest.json, so every number on the page comes from one run (``python -m benchmarks.run_all
--render bench_results/latest.json`` re-renders a saved run)."""

from __future__ import annotations

import os
import re
import string
import textwrap
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from benchmarks import harness

TEMPLATE = os.path.join(os.path.dirname(__file__), "template.md")
README_PREFIX = "- **Speed** (`make bench`"  # the README line that update_readme rewrites

# aten ops that are matrix products (including the fused attention kernel, whose work is two of them)
GEMM_OPS = ("aten::addmm", "aten::mm", "aten::bmm", "aten::baddbmm", "aten::_mkl_linear", "mkldnn::_linear_pointwise",
            "aten::mkldnn_linear", "aten::_scaled_dot_product_flash_attention_for_cpu", "aten::linear",
            "aten::matmul")


# -------------------------------------------------------------------------------------------------- formatting


def fmt_ms(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def fmt_gflops(value: Optional[float]) -> str:
    if not value:
        return "-"
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def fmt_ratio(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}x"


def fmt_mb(nbytes: Optional[float]) -> str:
    return "-" if not nbytes else f"{nbytes / 1e6:,.0f} MB"


def fmt_shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")"


def cell(text: str, limit: int = 90) -> str:
    """Text made safe for a markdown table cell (no pipes or newlines), shortened to ``limit``."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_error(message: str) -> str:
    """An error message without TensorFlow's noise: the "Detected at node ... <stack traces unavailable>" preamble
    goes, and node paths keep their last two parts (`.../self/cond_3/transpose` style)."""
    message = re.sub(r"Detected at node .*?<stack traces unavailable>\s*", "", message, flags=re.S)
    return re.sub(r"`(?:[^`/\s]+/)+([^`/\s]+/[^`/\s]+)`", r"`.../\1`", message)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------------- case tables


def peer_status(run: Mapping[str, Any]) -> Optional[str]:
    """The text of an error cell, or None for a peer with a time."""
    if run.get("unavailable"):
        return f"n/a: {run['unavailable']}"
    if run.get("error"):
        return f"**error**: {short_error(run['error'])}"
    if not run.get("time"):
        return "**error**: no time"
    return None


def group_table(group: harness.Group, cases: Sequence[Mapping[str, Any]]) -> str:
    """One row per (shape, peer): median and spread of the timed runs, GFLOP/s of the case's minimum FLOPs,
    peak RSS over the timed runs and the peak after loading, and the speed / memory / output differences
    against the group's baseline."""
    header = ["shape", "peer", "median", "min - max", "GFLOP/s", "peak RSS", "RSS at load",
              f"speed vs {group.baseline}", f"RSS vs {group.baseline}"]
    if group.compare_outputs:
        header.append("max \\|diff\\| vs " + group.baseline)
    rows = []
    for case in cases:
        for name, run in case["peers"].items():
            status = peer_status(run)
            label = group.peer(name).title
            if status:
                rows.append([fmt_shape(case["shape"]), label, cell(status)] + ["-"] * (len(header) - 3))
                continue
            t = run["time"]
            row = [fmt_shape(case["shape"]), label, fmt_ms(t["median"]), f"{fmt_ms(t['min'])} - {fmt_ms(t['max'])}",
                   fmt_gflops(run.get("gflops")), fmt_mb(run.get("peak_rss")),
                   fmt_mb((run.get("info") or {}).get("load_peak_rss")),
                   fmt_ratio(run.get("speedup")), fmt_ratio(run.get("rss_ratio"))]
            if group.compare_outputs:
                diff = run.get("max_abs_diff")
                row.append("-" if diff is None else f"{diff:.1e}")
            rows.append(row)
    return markdown_table(header, rows)


def gemm_summary(cases: Mapping[str, Mapping[str, Any]]) -> str:
    """``torch.matmul 118 GFLOP/s, NumPy matmul 160 GFLOP/s, ...`` for the GEMM case of the run."""
    parts = []
    for name, case in cases.items():
        if case["group"] != "gemm":
            continue
        for peer, run in case["peers"].items():
            label = harness.group("gemm").peer(peer).title
            parts.append(f"{label} {run['gflops']:.0f} GFLOP/s" if run.get("gflops") else f"{label}: failed")
    return ", ".join(parts) if parts else "not measured in this run"


def targets_table(rows: Sequence[Mapping[str, Any]]) -> str:
    out = []
    for row in rows:
        goal = f">= {row['target']:.2g}x"
        if row.get("rss_target") is not None:
            goal += f", peak RSS <= {row['rss_target']:.2g}x"
        measured = fmt_ratio(row.get("ratio"))
        if row.get("rss_target") is not None:
            measured += f", RSS {fmt_ratio(row.get('rss_ratio'))}"
        met = {True: "yes", False: "no", None: "not measured"}[row.get("met")]
        out.append([row["case"], f"{row['ours']} vs {row['other']}", goal, measured, met])
    return markdown_table(["case", "compared", "target", "measured", "met"], out)


# -------------------------------------------------------------------------------------------------- profile


def gemm_share(side: Mapping[str, Any]) -> float:
    total = side.get("total_self_ms") or 0.0
    gemm = sum(op["self_ms"] for op in side.get("ops", []) if op["op"] in GEMM_OPS)
    return gemm / total if total else 0.0


def profile_differences(profile: Mapping[str, Any], top: int = 4) -> str:
    """A sentence naming the ops whose self time differs most between the two sides (per forward)."""
    ours = {op["op"]: op["self_ms"] for op in profile["ours"]["ops"]}
    reference = {op["op"]: op["self_ms"] for op in profile["reference"]["ops"]}
    names = sorted(set(ours) | set(reference), key=lambda n: -abs(ours.get(n, 0.0) - reference.get(n, 0.0)))[:top]
    parts = [f"`{n}` {ours.get(n, 0.0):.0f} vs {reference.get(n, 0.0):.0f} ms" for n in names]
    total_ours, total_ref = profile["ours"]["total_self_ms"], profile["reference"]["total_self_ms"]
    return (f"Self CPU time per forward: ours {total_ours:.0f} ms, the reference {total_ref:.0f} ms; matrix products "
            f"are {gemm_share(profile['ours']):.0%} of ours and {gemm_share(profile['reference']):.0%} of the "
            f"reference's. Largest differences (ours vs reference): " + ", ".join(parts) + ".")


def profile_table(profile: Mapping[str, Any], top: int = 12) -> str:
    """Self CPU time per forward of the ops that lead either side's profile (union of both top-``top`` lists)."""
    ours = {op["op"]: op for op in profile["ours"]["ops"]}
    reference = {op["op"]: op for op in profile["reference"]["ops"]}
    names: List[str] = []
    for side in (profile["ours"]["ops"], profile["reference"]["ops"]):
        for op in side[:top]:
            if op["op"] not in names:
                names.append(op["op"])
    names.sort(key=lambda n: -max(ours.get(n, {}).get("self_ms", 0), reference.get(n, {}).get("self_ms", 0)))

    def show(table, name):
        op = table.get(name)
        return "-" if op is None else f"{op['self_ms']:.1f} ms ({op['calls']})"

    rows = [[f"`{n}`", show(ours, n), show(reference, n)] for n in names]
    rows.append(["**total self CPU**", f"{profile['ours']['total_self_ms']:.0f} ms",
                 f"{profile['reference']['total_self_ms']:.0f} ms"])
    rows.append(["matrix products (" + ", ".join(f"`{o.split('::')[1]}`" for o in GEMM_OPS[:4]) + ", SDPA, ...)",
                 f"{gemm_share(profile['ours']):.0%}", f"{gemm_share(profile['reference']):.0%}"])
    return markdown_table(["op", "ours: self ms per forward (calls)", "reference: self ms per forward (calls)"], rows)


# -------------------------------------------------------------------------------------------------- suites


def tokenizer_table(result: Mapping[str, Any]) -> str:
    titles = {"batch_padded_truncated": "padded + truncated batch", "batch_plain": "plain batch",
              "batch_pairs_np": "pairs, NumPy tensors",
              "batch_offsets_overflow": "offsets + overflow windows (stride 32)"}
    titles.update({f"v2_{name}": f"v2 (spm.model): {title}" for name, title in titles.items()})
    rows = [[titles.get(name, name), f"{row['texts_per_s']:,.0f}", fmt_ratio(row["ratio"])]
            for name, row in result.items() if isinstance(row, Mapping) and "texts_per_s" in row]
    table = markdown_table(["scenario", "texts/s (ours)", "speed vs reference fast tokenizer"], rows)
    load = result.get("v2_load_128k")
    if load:
        table += (f"\n\nDebertaV2Tokenizer loads a {load['pieces']:,}-piece spm.model ({load['file_bytes'] / 1e6:.1f} MB, "
                  f"the deberta-v3-base size) in {load['load_s']:.2f} s.")
    return table


def convert_table(result: Mapping[str, Any]) -> str:
    rows = [[name, f"{run['wall_s']:.1f} s", fmt_mb(run["peak_rss"]), f"{run['conversion_rss_over_model_size']:.2f}"]
            for name, run in result.get("runs", {}).items()]
    return markdown_table(["case", "wall", "peak RSS", "(peak - start) / model size"], rows)


def suite_section(name: str, suite: Mapping[str, Any]) -> str:
    if suite.get("error"):
        return f"**error**: {cell(suite['error'], 400)}"
    result = suite["result"]
    if name == "tokenizer":
        return (f"{result['num_texts']:,} texts, batches of {result['batch_size']}, best of {result['repeats']}; "
                f"reference: {result['reference']}.\n\n" + tokenizer_table(result))
    if name == "convert":
        model = result["model"]
        return (f"A random {model['architecture']} of the deberta-base shape ({model['parameters'] / 1e6:.1f} M "
                f"parameters, {model['size_bytes'] / 1e6:.0f} MB of float32), each conversion in a fresh "
                f"process.\n\n" + convert_table(result))
    if name == "profile":
        return (f"Shape {fmt_shape(result['shape'])}, eval, inference_mode, same weights and inputs; "
                f"{result['iterations']} round(s) alternating one profiled forward of each side, per op the median "
                f"over the rounds; "
                f"full tables: `{os.path.basename(result['ours']['table'])}`, "
                f"`{os.path.basename(result['reference']['table'])}` in bench_results/.\n\n"
                + profile_differences(result) + "\n\n" + profile_table(result))
    return "```\n" + repr(result)[:2000] + "\n```"


# -------------------------------------------------------------------------------------------------- page


def cases_by_group(results: Mapping[str, Any]) -> Dict[str, List[Mapping[str, Any]]]:
    grouped: Dict[str, List[Mapping[str, Any]]] = {}
    for case in results.get("cases", {}).values():
        grouped.setdefault(case["group"], []).append(case)
    return grouped


def results_sections(results: Mapping[str, Any]) -> str:
    parts = []
    grouped = cases_by_group(results)
    for g in harness.GROUPS:
        if g.name not in grouped:
            continue
        repeats = grouped[g.name][0]["repeats"]
        warmup = grouped[g.name][0]["warmup"]
        flops = {"forward": "minimum FLOPs of the forward", "train": "3x the forward's, with the relative "
                 "projections and the classifier", "gemm": "2 m k n"}[g.flops]
        parts.append(f"### {g.title}\n\nMedian of {repeats} interleaved runs per peer after {warmup} warm-up "
                     f"run(s); GFLOP/s = {flops} / median.\n\n" + group_table(g, grouped[g.name]))
    return "\n\n".join(parts)


def errors_section(results: Mapping[str, Any]) -> str:
    lines = []
    for name, case in results.get("cases", {}).items():
        for peer, run in case["peers"].items():
            if run.get("error"):
                lines.append(f"- `{name}` {peer}: {cell(short_error(run['error']), 300)}")
    for name, suite in results.get("suites", {}).items():
        if suite.get("error"):
            lines.append(f"- suite `{name}`: {cell(suite['error'], 300)}")
    return "\n".join(lines) if lines else "none: every peer of every case produced a time."


def versions_line(meta: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)


def render_markdown(results: Mapping[str, Any], template_path: str = TEMPLATE,
                    plot_name: str = "benchmarks.png") -> str:
    meta = results["meta"]
    suites = results.get("suites", {})
    values = {
        "date": meta["date"],
        "command": meta["command"],
        "cpu": meta["cpu"],
        "threads": str(meta["threads"]),
        "versions": versions_line(meta),
        "load": f"{meta['load_before']} before, {meta['load_after']} after",
        "wall": f"{meta['wall_s'] / 60:.1f} min",
        "preset": meta["preset"],
        "gemm": gemm_summary(results.get("cases", {})),
        "targets": targets_table(results.get("targets", [])) if results.get("targets") else "No target case ran.",
        "results": results_sections(results) or "No model case ran.",
        "plot": f"![time per case and peer]({plot_name})" if results.get("plot") else "(no plot in this run)",
        "errors": errors_section(results),
        "profile": suite_section("profile", suites["profile"]) if "profile" in suites else "Not run.",
        "tokenizer": suite_section("tokenizer", suites["tokenizer"]) if "tokenizer" in suites else "Not run.",
        "convert": suite_section("convert", suites["convert"]) if "convert" in suites else "Not run.",
    }
    with open(template_path, encoding="utf-8") as handle:
        return string.Template(handle.read()).substitute(values)


# -------------------------------------------------------------------------------------------------- plot


def plot(results: Mapping[str, Any], path: str) -> bool:
    """Median time per case and peer (min - max as error bars), one panel per group; a failed peer is an x at
    the bottom of its slot. Returns False (and writes nothing) when no model case has a time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    grouped = {name: cases for name, cases in cases_by_group(results).items() if name != "gemm"}
    grouped = {name: cases for name, cases in grouped.items()
               if any(run.get("time") for case in cases for run in case["peers"].values())}
    if not grouped:
        return False
    fig, axes = plt.subplots(len(grouped), 1, figsize=(10, 3.2 * len(grouped)), squeeze=False)
    for ax, (name, cases) in zip(axes[:, 0], grouped.items()):
        g = harness.group(name)
        peers = [p for p in g.peers if any(p.name in case["peers"] for case in cases)]
        width = 0.8 / max(1, len(peers))
        for index, peer in enumerate(peers):
            xs, ys, lows, highs, failed = [], [], [], [], []
            for position, case in enumerate(cases):
                run = case["peers"].get(peer.name)
                if run is None:
                    continue
                x = position - 0.4 + width * (index + 0.5)
                if run.get("time"):
                    t = run["time"]
                    xs.append(x)
                    ys.append(t["median"] * 1e3)
                    lows.append((t["median"] - t["min"]) * 1e3)
                    highs.append((t["max"] - t["median"]) * 1e3)
                else:
                    failed.append(x)
            if xs:
                ax.bar(xs, ys, width, yerr=[lows, highs], capsize=2, label=peer.title, color=f"C{index}")
            else:  # no time at any shape: the legend shows the failure marker
                ax.plot([], [], "x", color="red", label=f"{peer.title} (failed)")
            if failed:
                bottom = blended_transform_factory(ax.transData, ax.transAxes)  # x in data, y in axes fraction
                ax.plot(failed, [0.03] * len(failed), "x", color="red", markersize=9, transform=bottom)
        ax.set_xticks(range(len(cases)), [fmt_shape(case["shape"]) for case in cases])
        ax.set_ylabel("ms (median)")
        ax.set_title(g.title, fontsize=10)
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(axis="y", alpha=0.3)
        if name == "forward" and len(cases) > 1:
            ax.set_yscale("log")
    meta = results["meta"]
    fig.suptitle(f"make bench, {meta['date']}: {meta['cpu']}, {meta['threads']} threads (x: failed)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# -------------------------------------------------------------------------------------------------- README


def _ratios(results: Mapping[str, Any], group_name: str, other: str, ours: str = "best") -> List[str]:
    out = []
    for case in results.get("cases", {}).values():
        if case["group"] != group_name or other not in case["peers"]:
            continue
        g = harness.group(group_name)
        mine = harness.best_ours(case, g) if ours == "best" else ours
        run, their = case["peers"].get(mine or "", {}), case["peers"][other]
        value = harness.ratio((their.get("time") or {}).get("median"), (run.get("time") or {}).get("median"))
        if value is not None:
            out.append(f"{value:.2f}x at {fmt_shape(case['shape'])}")
    return out


def readme_speed_line(results: Mapping[str, Any]) -> str:
    """The README's one-paragraph summary of a run (ratios = their time / our time; above 1 we are faster)."""
    meta = results["meta"]
    parts = []
    for group_name, other, ours, what in (
        ("forward", "reference", "best", "torch forward vs the reference"),
        ("forward", "onnxruntime", "best", "vs ONNX Runtime on our export"),
        ("train", "reference", "ours", "training step vs the reference"),
        ("keras-forward", "reference-graph", "ours-graph", "Keras graph mode vs the reference's TF classes"),
        ("keras-forward", "reference-graph", "ours-xla", "Keras XLA vs the reference's TF graph mode"),
        ("keras-fit", "reference", "best", "Keras fit step"),
    ):
        found = _ratios(results, group_name, other, ours)
        if found:
            parts.append(f"{what} {', '.join(found)}")
    summary = "; ".join(parts) if parts else "no model case ran"
    text = (f"- **Speed** (`make bench`, [docs/benchmarks.md](docs/benchmarks.md), run of {meta['date']} on "
            f"{meta['cpu']}, {meta['threads']} threads; ratios are their time / ours, above 1 we are faster): "
            f"{summary}.")
    return textwrap.fill(text, width=115, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)


def update_readme(path: str, line: str) -> bool:
    """Replace the README's speed line (the one starting with README_PREFIX, with its continuation lines) by
    ``line``; False, and nothing written, when there is no such line."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    start = next((i for i, text in enumerate(lines) if text.startswith(README_PREFIX)), None)
    if start is None:
        return False
    end = start + 1
    while end < len(lines) and lines[end].startswith("  ") and lines[end].strip():  # the item's wrapped lines
        end += 1
    lines[start:end] = [line]
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    os.replace(tmp, path)
    return True
