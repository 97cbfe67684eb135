"""bfloat16 where the hardware multiplies it natively, float32 elsewhere.

CUDA GPUs with bf16 and CPUs with AVX512-BF16 or AMX multiply bf16 matrices 2-4x faster
than float32 (measured on an AVX512-BF16 CPU: 207 against 91 GFLOP/s, one thread); other
CPUs emulate bf16, which is slower than float32. So "auto" chooses bf16 only on the first
kind, and the same config gives the fastest number format on every machine.
"""

from contextlib import AbstractContextManager, nullcontext
from typing import Literal

import torch

DType = Literal["auto", "float32", "bfloat16"]
"""A config's number format: auto picks bfloat16 where it is native (`native_bf16`)."""


def native_bf16(device: torch.device) -> bool:
    """Whether `device` multiplies bf16 natively (CUDA with bf16, AVX512-BF16 or AMX CPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, p, lambda: False)() for p in probes)
    return False


def choose_dtype(name: str, device: torch.device) -> torch.dtype:
    """The dtype a config's `name` ("auto", "float32" or "bfloat16") means on `device`."""
    if name != "auto":
        return torch.bfloat16 if name == "bfloat16" else torch.float32
    return torch.bfloat16 if native_bf16(device) else torch.float32


def autocast(dtype: torch.dtype, device: torch.device) -> AbstractContextManager[object]:
    """bf16 autocast on `device` for dtype bfloat16 (matmuls in bf16, reductions and
    weights in float32); no change for float32."""
    if dtype == torch.float32:
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype)
