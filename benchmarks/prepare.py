"""Writes the weights every peer of a `make bench` run loads, once per run, in a worker process of its own.

- ``base_pt/``: a randomly initialised (seeded) deberta_torch.DebertaModel, save_pretrained (config.json +
  model.safetensors, the reference's names): the torch forward peers, ours and the reference, load it;
- ``cls_pt/``: the same for DebertaForSequenceClassification (2 labels): the training peers;
- ``base_tf/``, ``cls_tf/``: the same weights as tf_model.h5 (conversion.convert, bit-exact), loaded by our
  Keras models and by the reference's TF classes;
- ``onnx/model.onnx``: our DebertaModel (eval) exported by torch.onnx (dynamo) with dynamic batch and sequence,
  returning last_hidden_state, for ONNX Runtime.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict


def prepare(work: str, preset: str, keras: bool = False, onnx: bool = False, train: bool = False,
            forward: bool = True) -> Dict[str, Any]:
    import torch

    import deberta_torch
    from deberta_core.presets import preset_config

    timings: Dict[str, float] = {}
    config = preset_config(preset)
    folders: Dict[str, str] = {}
    started = time.perf_counter()
    if forward or onnx:
        torch.manual_seed(0)
        base = deberta_torch.DebertaModel(config).eval()
        folders["base_pt"] = os.path.join(work, "base_pt")
        base.save_pretrained(folders["base_pt"])
    if train:
        torch.manual_seed(1)
        classifier = deberta_torch.DebertaForSequenceClassification(config.copy(num_labels=2))
        folders["cls_pt"] = os.path.join(work, "cls_pt")
        classifier.save_pretrained(folders["cls_pt"])
        del classifier
    timings["write_torch_s"] = time.perf_counter() - started
    if keras:
        from conversion.convert import convert

        started = time.perf_counter()
        for name in ("base", "cls"):
            if f"{name}_pt" in folders:
                folders[f"{name}_tf"] = os.path.join(work, f"{name}_tf")
                convert(folders[f"{name}_pt"], folders[f"{name}_tf"], to="tf")
        timings["convert_tf_s"] = time.perf_counter() - started
    if onnx:
        started = time.perf_counter()
        folders["onnx"] = export_onnx(base, os.path.join(work, "onnx"))
        timings["export_onnx_s"] = time.perf_counter() - started
    return {"folders": folders, "timings": timings, "parameters": sum(p.numel() for p in base.parameters())
            if forward or onnx else None}


def export_onnx(model, folder: str) -> str:
    import torch

    from benchmarks.harness import make_inputs

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids, attention_mask=attention_mask).last_hidden_state

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    example = {k: torch.from_numpy(v) for k, v in make_inputs(model.config.vocab_size, 2, 16).items()}
    batch, seq = torch.export.Dim("batch", min=1, max=1024), torch.export.Dim("seq", min=2, max=8192)
    torch.onnx.export(LastHiddenState(model), (example["input_ids"], example["attention_mask"]), path,
                      input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                      dynamic_shapes=({0: batch, 1: seq}, {0: batch, 1: seq}), dynamo=True)
    return path
