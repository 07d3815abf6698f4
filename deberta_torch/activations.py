"""The activation functions named in deberta_core.config.ACTIVATIONS, with the reference's definitions."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


def linear(x: torch.Tensor) -> torch.Tensor:
    return x


ACT2FN = {
    "gelu": F.gelu,
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "gelu_fast": gelu_tanh,
    "quick_gelu": quick_gelu,
    "relu": F.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "silu": F.silu,
    "swish": F.silu,
    "mish": F.mish,
    "linear": linear,
}


def get_activation(name: str):
    if name not in ACT2FN:
        raise ValueError(f"activation {name!r} is not known; expected one of {sorted(ACT2FN)}")
    return ACT2FN[name]
