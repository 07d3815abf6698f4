"""An fp32 GEMM (default 1024 x 768 x 3072: a deberta-base feed-forward product for 1024 tokens) in torch,
NumPy and ONNX Runtime, measured in the same run as the models: the GFLOP/s the machine reaches today, the
yardstick for the models' GFLOP/s column. Each runs in its own worker with the run's thread count
(torch.set_num_threads; NumPy's BLAS through OMP/OPENBLAS/MKL_NUM_THREADS; ONNX Runtime's intra-op threads)."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from benchmarks.harness import Runner


def _operands(spec: Dict[str, Any]):
    m, k, n = spec["shape"]
    rng = np.random.default_rng(0)
    return rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)


def gemm_torch(spec: Dict[str, Any]) -> Runner:
    import torch

    a, b = (torch.from_numpy(x) for x in _operands(spec))
    return Runner(lambda: torch.matmul(a, b), info={"torch_threads": torch.get_num_threads()})


def gemm_numpy(spec: Dict[str, Any]) -> Runner:
    a, b = _operands(spec)
    blas = np.__config__.CONFIG.get("Build Dependencies", {}).get("blas", {})
    info = {"numpy_blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip()}
    return Runner(lambda: np.matmul(a, b), info=info)


def gemm_onnxruntime(spec: Dict[str, Any]) -> Runner:
    import onnxruntime
    from onnx import TensorProto, helper

    a, b = _operands(spec)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "gemm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, list(a.shape)),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, list(b.shape))],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [a.shape[0], b.shape[1]])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = min(model.ir_version, 9)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = spec["threads"]
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed = {"a": a, "b": b}
    return Runner(lambda: session.run(None, feed), info={"onnxruntime": onnxruntime.__version__})
