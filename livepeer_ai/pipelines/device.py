from __future__ import annotations

from typing import Any


def pick_device(requested: str | None = None) -> tuple[str, Any]:
    """CUDA in fp16 when present, else CPU in fp32; an explicit device wins.

    fp16 on CPU is slow and some ops lack kernels, so CPU always runs fp32.
    """
    import torch

    if requested:
        device = requested
    else:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"Device {device!r} requested but CUDA is not available.")
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    return device, dtype


def gpu_info() -> dict[str, dict[str, Any]]:
    """The runner API's /hardware/info `gpu_info` map (empty on a CPU-only host)."""
    import torch

    if not torch.cuda.is_available():
        return {}
    result: dict[str, dict[str, Any]] = {}
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        free, total = torch.cuda.mem_get_info(index)
        result[str(index)] = {
            "id": str(index),
            "name": props.name,
            "memory_total": total,
            "memory_free": free,
            "major": props.major,
            "minor": props.minor,
        }
    return result
