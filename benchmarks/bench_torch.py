"""Forward latency of deberta_torch against the reference PyTorch implementation, in one run, as ratios.

Run: ``python -m benchmarks.bench_torch``. Both models have the deberta-base shape (random weights, eval mode,
float32, CPU, no grad) and identical weights; each scenario alternates the two implementations and keeps the
best of ``REPEATS`` runs. The ratio is reference time / our time: above 1.0 we are faster. Also reports ONNX
Runtime on the exported model (the next performance goal is to beat it) when the [onnx] extra is installed.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any, Callable, Dict, List

import numpy as np
import torch

REPEATS = 5
SCENARIOS = [(1, 128), (8, 128), (4, 512)]  # (batch, sequence)


def _best(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _inputs(config, batch: int, seq: int) -> Dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(batch * 1000 + seq)
    ids = torch.randint(5, config.vocab_size, (batch, seq), generator=gen)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[batch // 2:, seq * 3 // 4:] = 0  # some padding, as real batches have
    return {"input_ids": ids * mask, "attention_mask": mask}


def main(preset: str = "deberta-base", repeats: int = REPEATS, scenarios: List[tuple] = SCENARIOS) -> Dict[str, Any]:
    os.environ.setdefault("USE_TF", "0")
    import transformers

    import deberta_torch
    from deberta_core.presets import preset_config

    config = preset_config(preset)
    torch.manual_seed(0)
    ours = deberta_torch.DebertaModel(config).eval()
    reference = transformers.DebertaModel(transformers.DebertaConfig(**config.to_dict())).eval()
    reference.load_state_dict(ours.state_dict())
    results: Dict[str, Any] = {"preset": preset, "threads": torch.get_num_threads(), "repeats": repeats,
                               "reference": f"transformers {transformers.__version__}", "torch": torch.__version__}
    session = _onnx_session(ours, config)
    for batch, seq in scenarios:
        inputs = _inputs(config, batch, seq)
        with torch.inference_mode():
            ours_fn = lambda: ours(**inputs)  # noqa: E731
            ref_fn = lambda: reference(**inputs)  # noqa: E731
            ours_fn(), ref_fn()  # warm-up
            ours_s = ref_s = float("inf")
            for _ in range(repeats):  # alternate so background noise hits both alike
                ours_s = min(ours_s, _best(ours_fn, 1))
                ref_s = min(ref_s, _best(ref_fn, 1))
            rows = inputs["attention_mask"].bool()
            max_diff = float((ours(**inputs).last_hidden_state - reference(**inputs).last_hidden_state)[rows].abs().max())
        entry = {"ours_ms": ours_s * 1e3, "reference_ms": ref_s * 1e3, "ratio_vs_reference": ref_s / ours_s,
                 "max_abs_diff_valid": max_diff}
        if session is not None:
            feed = {k: v.numpy() for k, v in inputs.items()}
            session.run(None, feed)
            ort_s = _best(lambda: session.run(None, feed), repeats)
            entry.update({"onnxruntime_ms": ort_s * 1e3, "ratio_vs_onnxruntime": ort_s / ours_s})
        results[f"b{batch}_s{seq}"] = entry
    return results


def _onnx_session(model, config):
    try:
        import onnxruntime
    except ImportError:
        return None

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids, attention_mask=attention_mask).last_hidden_state

    inputs = _inputs(config, 2, 16)
    path = os.path.join(tempfile.mkdtemp(prefix="deberta-bench-"), "model.onnx")
    batch, seq = torch.export.Dim("batch", min=1, max=64), torch.export.Dim("seq", min=2, max=512)
    torch.onnx.export(Wrapper(model), (inputs["input_ids"], inputs["attention_mask"]), path,
                      input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                      dynamic_shapes=({0: batch, 1: seq}, {0: batch, 1: seq}), dynamo=True)
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
