"""The pure logic of `make bench` (benchmarks/harness.py, benchmarks/report.py): FLOP counts against a hand count,
the interleaved repeat order, statistics, case selection, targets and the rendering; and one smoke run of the
harness on the tiny preset in a subprocess. No timing is asserted anywhere (speed is what `make bench` reports)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from benchmarks import harness, report
from deberta_core.presets import preset_config

ROOT = pathlib.Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------------- FLOPs


def test_forward_flops_of_deberta_base_match_a_hand_count():
    config = preset_config("deberta-base")
    b, s, e, f, h, d, layers = 8, 128, 768, 3072, 12, 64, 12
    tokens = b * s
    # per token per layer: q/k/v (e x 3e), output projection (e x e), feed-forward (e x f, f x e); 2 FLOPs per MAC
    dense = tokens * (2 * e * 3 * e + 2 * e * e + 2 * e * f + 2 * f * e)
    # per head: Q K^T, A V, c2p, p2c, each an [s, d] x [d, s] product
    attention = 4 * b * h * 2 * s * s * d
    assert harness.forward_flops(config, b, s) == layers * (dense + attention)
    # the numbers issue 10 quotes for this machine's minimum work: ~184 GFLOP at (8, 128), ~106 at (1, 512)
    assert harness.forward_flops(config, 8, 128) / 1e9 == pytest.approx(183.6, abs=0.1)
    assert harness.forward_flops(config, 1, 512) / 1e9 == pytest.approx(106.3, abs=0.1)


def test_flops_of_a_small_config_by_hand_with_relative_projections_and_embedding_projection():
    config = dict(hidden_size=8, embedding_size=4, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16,
                  relative_attention=True, pos_att_type="c2p", max_relative_positions=3, max_position_embeddings=64,
                  pooler_hidden_size=None)
    b, s = 2, 5
    # per layer: qkv 2*10*8*24 = 3840, out 2*10*8*8 = 1280, ffn 2*2*10*8*16 = 5120;
    # attention: (QK, AV, c2p) 3 * 2 * b * h * s * s * d = 3 * 2 * 2 * 2 * 25 * 4 = 2400
    per_layer = 3840 + 1280 + 5120 + 2400
    embed_proj = 2 * 10 * 4 * 8
    assert harness.forward_flops(config, b, s) == 2 * per_layer + embed_proj
    # the c2p table rows read: span a = min(5, 3) = 3, rows min(2s - 1, 2a) = 6, 2 * 6 * 8 * 8 = 768 per layer
    assert harness.forward_flops(config, b, s, relative_projections=True) == 2 * (per_layer + 768) + embed_proj
    # a short sequence reads 2s - 1 rows: s = 2, a = 2 -> 3 rows, not 4
    short = harness.forward_flops(config, 1, 2, relative_projections=True) - harness.forward_flops(config, 1, 2)
    assert short == 2 * (2 * 3 * 8 * 8)
    # training: 3 x (forward with the projections + pooler 2*b*8*8 + classifier 2*b*8*2)
    head = 2 * b * 8 * 8 + 2 * b * 8 * 2
    assert harness.train_flops(config, b, s) == 3 * (2 * (per_layer + 768) + embed_proj + head)
    assert harness.gemm_flops(1024, 768, 3072) == 2 * 1024 * 768 * 3072


def test_flops_without_relative_attention_count_only_content_attention():
    config = preset_config("deberta-tiny").copy(relative_attention=False, position_biased_input=True)
    with_rel = preset_config("deberta-tiny")
    b, s, h, d = 2, 16, 4, 8
    extra = harness.forward_flops(with_rel, b, s) - harness.forward_flops(config, b, s)
    assert extra == 2 * (2 * 2 * b * h * s * s * d)  # 2 layers x (c2p + p2c), each 2 b h s s d


# ---------------------------------------------------------------------------------------------------- order, statistics


def test_interleaved_order_is_round_robin_with_a_rotating_start():
    order = harness.interleaved_order(["a", "b", "c"], 4)
    assert [peer for _, peer in order] == list("abc" "bca" "cab" "abc")
    assert [repeat for repeat, _ in order] == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    for repeat in range(4):
        assert sorted(peer for r, peer in order if r == repeat) == ["a", "b", "c"]
    assert harness.interleaved_order([], 3) == []
    assert harness.interleaved_order(["only"], 2) == [(0, "only"), (1, "only")]


def test_summarize_reports_median_spread_and_quartiles():
    stats = harness.summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert stats == {"median": 3.0, "min": 1.0, "max": 5.0, "q1": 2.0, "q3": 4.0, "n": 5}
    assert harness.summarize([1.0, 4.0])["median"] == 2.5
    assert harness.summarize([7.0])["q1"] == harness.summarize([7.0])["q3"] == 7.0
    with pytest.raises(ValueError, match="at least one sample"):
        harness.summarize([])


def test_padding_is_dynamic_and_deterministic():
    assert harness.padded_lengths(1, 512) == [512]
    lengths = harness.padded_lengths(8, 128)
    assert lengths[0] == 128 and all(32 <= n <= 128 for n in lengths) and len(set(lengths)) > 1
    assert lengths == harness.padded_lengths(8, 128)
    inputs = harness.make_inputs(1000, 8, 128)
    assert inputs["attention_mask"].sum(axis=1).tolist() == lengths
    assert (inputs["input_ids"][inputs["attention_mask"] == 0] == 0).all()
    assert (inputs["input_ids"][inputs["attention_mask"] == 1] >= 5).all()


# ---------------------------------------------------------------------------------------------------- selection


def test_plan_selects_cases_by_pattern_and_peers_by_name():
    full = harness.plan()
    assert full.names == harness.all_case_names()
    assert "forward/b1_s2048" in full.names and "tokenizer" in full.names
    chosen = harness.plan(["forward/b8_*", "keras-fit"], peers=["ours", "reference"])
    assert chosen.names == ["forward/b8_s128", "keras-fit/b8_s128"]
    assert [[p.name for p in peers] for _, _, peers in chosen.cases] == [["ours", "reference"], ["ours", "reference"]]
    quick = harness.plan(quick=True)
    assert all(len([c for c in quick.cases if c[0].name == g.name]) == 1 for g in harness.GROUPS)
    assert quick.repeats["forward"] == harness.QUICK_REPEATS
    assert [p.name for p in harness.plan(["train/b8_s128"], peers=["all"]).cases[0][2]] == [
        p.name for p in harness.group("train").peers]
    assert harness.plan(["forward"], shapes=[(2, 64)]).names == ["forward/b2_s64"]
    with pytest.raises(ValueError, match="no benchmark case matches \\['nope'\\]"):
        harness.plan(["nope"])
    with pytest.raises(ValueError, match="unknown peer"):
        harness.plan(peers=["ourz"])


def _run(median=None, rss=None, error=None):
    run = {"samples": [], "peak_rss": rss}
    if median is not None:
        run["time"] = harness.summarize([median])
    if error:
        run["error"] = error
    return run


def test_targets_use_the_best_of_ours_and_report_missing_times():
    cases = {
        "forward/b8_s128": {"group": "forward", "shape": [8, 128], "peers": {
            "ours": _run(1.0), "ours-compile": _run(0.5), "reference": _run(1.0),
            "onnxruntime": _run(error="boom")}},
        "forward/b1_s2048": {"group": "forward", "shape": [1, 2048], "peers": {
            "ours": _run(1.0, rss=600), "reference": _run(4.0, rss=1000)}},
    }
    rows = {(r["case"], r["ours"], r["other"]): r for r in harness.check_targets(cases)}
    vs_reference = rows[("forward/b8_s128", "ours-compile", "reference")]
    assert vs_reference["ratio"] == 2.0 and vs_reference["met"] is True
    assert rows[("forward/b8_s128", "ours-compile", "onnxruntime")]["met"] is None
    assert rows[("forward/b8_s128", "ours-compile", "ours")]["ratio"] == 2.0
    long = rows[("forward/b1_s2048", "ours", "reference")]
    assert long["ratio"] == 4.0 and long["rss_ratio"] == 0.6 and long["met"] is True
    assert not any(r["case"].startswith("train") for r in rows.values())


# ---------------------------------------------------------------------------------------------------- rendering


def _results():
    case = {"group": "forward", "shape": [8, 128], "repeats": 3, "warmup": 1, "baseline": "reference", "flops": 2e9,
            "peers": {"ours": dict(_run(0.5, rss=2e9), gflops=4.0, speedup=2.0, rss_ratio=0.5, max_abs_diff=1e-6,
                               info={"load_peak_rss": 3e9}),
                      "reference": dict(_run(1.0, rss=4e9), gflops=2.0, speedup=1.0, rss_ratio=1.0, max_abs_diff=0.0),
                      "onnxruntime": _run(error="RuntimeError: a | b\nsecond line")}}
    gemm = {"group": "gemm", "shape": [1024, 768, 3072], "repeats": 3, "warmup": 1, "baseline": "torch",
            "flops": 4.8e9, "peers": {"torch": dict(_run(0.04), gflops=120.0, speedup=1.0)}}
    meta = {"date": "2026-01-01 00:00 UTC", "command": "make bench", "cpu": "Test CPU (2 cores)", "threads": 2,
            "versions": {"torch": "2.13.0", "tensorflow": None}, "preset": "deberta-base", "load_before": "1.0",
            "load_after": "2.0", "wall_s": 600.0}
    results = {"meta": meta, "cases": {"gemm/1024x768x3072": gemm, "forward/b8_s128": case}, "suites": {}}
    results["targets"] = harness.check_targets(results["cases"])
    return results


def test_group_table_renders_times_ratios_and_an_error_cell():
    results = _results()
    table = report.group_table(harness.group("forward"), [results["cases"]["forward/b8_s128"]])
    lines = table.splitlines()
    assert lines[0].startswith("| shape | peer | median | min - max | GFLOP/s | peak RSS | RSS at load | speed vs")
    assert len(lines) == 5 and all(line.count(" | ") == lines[0].count(" | ") for line in lines[2:4])
    assert "| (8, 128) | ours (eager) | 500 ms | 500 ms - 500 ms | 4 | 2,000 MB | 3,000 MB | 2.00x | 0.50x | " \
           "1.0e-06 |" in table
    assert "**error**: RuntimeError: a \\| b second line" in lines[4]


def test_page_is_rendered_from_the_template_with_every_placeholder_filled():
    results = _results()
    page = report.render_markdown(results)
    assert "$" not in page.replace("$ ", "")  # no unfilled ${placeholder}
    for expected in ("2026-01-01 00:00 UTC", "Test CPU (2 cores)", "`make bench`", "torch 2.13.0",
                     "torch.matmul 120 GFLOP/s", "forward/b8_s128", "`forward/b8_s128` onnxruntime"):
        assert expected in page
    assert "tensorflow None" not in page


def test_readme_speed_line_is_replaced_in_place(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n\n- **Tests:** x\n- **Speed** (`make bench`, old\n  wrapped line\n- **Next:** y\n")
    line = report.readme_speed_line(_results())
    assert "2.00x at (8, 128)" in " ".join(line.split()) and line.startswith(report.README_PREFIX)
    assert all(len(part) <= 115 and (i == 0 or part.startswith("  ")) for i, part in enumerate(line.split("\n")))
    assert report.update_readme(str(readme), line)
    assert readme.read_text() == f"intro\n\n- **Tests:** x\n{line}\n- **Next:** y\n"
    other = tmp_path / "OTHER.md"
    other.write_text("no speed line\n")
    assert not report.update_readme(str(other), line) and other.read_text() == "no speed line\n"


def test_short_error_drops_tensorflow_noise():
    message = ("InvalidArgumentError: Graph execution error: Detected at node a/b/c/d defined at (most recent call "
               "last): <stack traces unavailable> Input 1 to node `model/encoder/layer_._0/self/cond_3/transpose` "
               "with op Transpose must be a compile-time constant.")
    assert report.short_error(message) == ("InvalidArgumentError: Graph execution error: Input 1 to node "
                                           "`.../cond_3/transpose` with op Transpose must be a compile-time constant.")


def test_every_peer_runner_and_suite_names_a_function_that_exists():
    import importlib

    for g in harness.GROUPS:
        for peer in g.peers:
            module, _, name = peer.runner.partition(":")
            assert callable(getattr(importlib.import_module(module), name)), peer.runner
    for runner, _ in harness.SUITES.values():
        module, _, name = runner.partition(":")
        assert callable(getattr(importlib.import_module(module), name)), runner


# ---------------------------------------------------------------------------------------------------- smoke


@pytest.mark.slow
def test_quick_harness_runs_one_case_on_the_tiny_preset(tmp_path):
    """~15 s of CPU (three interpreters importing torch / transformers), longer on a loaded machine."""
    pytest.importorskip("transformers")
    pytest.importorskip("matplotlib")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run_all", "--quick", "--preset", "deberta-tiny",
         "--cases", "forward/b1_s128", "--peers", "ours,reference", "--out", str(tmp_path), "--no-docs"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    case = results["cases"]["forward/b1_s128"]
    for peer in ("ours", "reference"):
        run = case["peers"][peer]
        assert len(run["samples"]) == harness.QUICK_REPEATS and run["time"]["median"] > 0 and run["peak_rss"] > 0
    assert case["peers"]["ours"]["max_abs_diff"] < 1e-4  # same weights, same inputs: the outputs agree
    assert case["order"] == ["ours", "reference", "reference", "ours"]
    page = (tmp_path / "benchmarks.md").read_text()
    assert "| (1, 128) | ours (eager) |" in page
    assert (tmp_path / "benchmarks.png").stat().st_size > 0


def test_a_broken_peer_becomes_an_error_cell_and_the_others_keep_their_numbers(tmp_path):
    import dataclasses

    from benchmarks import run_all

    numpy_peer = harness.group("gemm").peer("numpy")
    broken = harness.Peer("broken", numpy_peer.runner, process="plain", options=(("no_such_option", 1),))
    g = dataclasses.replace(harness.group("gemm"), peers=(numpy_peer, broken), baseline="numpy")
    messages = []
    case = run_all.run_case(g, (32, 16, 8), g.peers, repeats=3, warmup=1, threads=1, folders={}, config=None,
                            work=str(tmp_path), logs=str(tmp_path), say=messages.append)
    assert case["order"] == ["numpy"] * 3
    assert "no_such_option" in case["peers"]["broken"]["error"] and not case["peers"]["broken"].get("time")
    numpy_run = case["peers"]["numpy"]
    assert numpy_run["time"]["n"] == 3 and 0 < numpy_run["peak_rss"] <= numpy_run["info"]["warmup_peak_rss"]
    assert numpy_run["peak_is_run_only"] is True  # Linux: the high-water mark was reset after the warm-up
    median = case["peers"]["numpy"]["time"]["median"]
    assert case["peers"]["numpy"]["gflops"] == pytest.approx(2 * 32 * 16 * 8 / median / 1e9)
    assert any("broken: FAILED" in m for m in messages)
    table = report.group_table(g, [case])
    assert "**error**: TypeError" in table and "| (32, 16, 8) | NumPy matmul |" in table
