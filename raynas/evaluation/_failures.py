"""Recognising the ways a candidate fails (out of memory) and describing an error in one line."""

from __future__ import annotations

import torch


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is a CPU ``MemoryError`` or a CUDA / allocator out-of-memory error.

    Example:
        >>> is_out_of_memory(MemoryError()), is_out_of_memory(ValueError("x"))
        (True, False)
    """
    if isinstance(error, MemoryError):
        return True
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(error, oom):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


def describe(error: BaseException) -> str:
    """``"TypeName: first line of the message"``.

    Example:
        >>> describe(ValueError("bad width\\nmore"))
        'ValueError: bad width'
    """
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
