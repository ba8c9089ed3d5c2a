"""PyTorch checkpoints (``.pt``, ``.pth``, ``.bin``, ``.ckpt``), loaded without running pickled code.

``engine="torch"`` uses ``torch.load(weights_only=True, mmap=True)`` (PyTorch's own restricted unpickler);
``engine="builtin"`` uses the torch-free reader of :mod:`sparsity.weights._torch_containers`; ``"auto"`` picks
torch when it is installed. Nested dicts and lists are flattened to dotted names (``model.encoder.0.weight``);
non-tensor leaves (epochs, optimiser hyper-parameters) are ignored.
"""

from __future__ import annotations

import functools
import importlib.util
import pickle
import re
import struct
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import numpy as np

from sparsity.weights._common import TensorRef, is_float_name
from sparsity.weights._errors import CorruptWeightsError, MissingDependencyError, UnsafePickleError
from sparsity.weights._torch_containers import check_storage_sizes, read_legacy, read_zip
from sparsity.weights._torch_pickle import LazyTensor

__all__ = ["Engine", "torch_entries"]

Engine = Literal["auto", "torch", "builtin"]


def _flatten(obj: Any, prefix: str, is_leaf) -> Iterator[tuple[str, Any]]:
    if is_leaf(obj):
        yield prefix, obj
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key), is_leaf)
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            yield from _flatten(value, f"{prefix}.{i}" if prefix else str(i), is_leaf)


def torch_entries(path: str, *, zip_format: bool, engine: Engine = "auto") -> Iterator[TensorRef]:
    """References to every tensor in a checkpoint (zip or legacy layout)."""
    if engine == "auto":
        engine = "torch" if importlib.util.find_spec("torch") is not None else "builtin"
    if engine == "torch":
        yield from _torch_engine(path, zip_format)
        return
    obj, loader = read_zip(path) if zip_format else read_legacy(path)
    seen: set[str] = set()
    for name, t in _flatten(obj, "", lambda o: isinstance(o, LazyTensor)):
        if name in seen:
            continue
        seen.add(name)
        yield TensorRef(name, t.shape, t.dtype, is_float_name(t.dtype), functools.partial(loader, name, t))


def _torch_engine(path: str, zip_format: bool) -> Iterator[TensorRef]:
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError(path, "engine='torch' needs PyTorch; use engine='builtin'") from exc
    try:  # sizes first: torch allocates what the pickle claims and inflates compressed members whole
        check_storage_sizes(path, zip_format=zip_format)
    except UnsafePickleError:
        pass  # torch's allow-list is wider than ours (sparse, quantised tensors); torch.load decides below
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=zip_format)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "weights_only" in text or "Unsupported global" in text or "WeightsUnpickler" in text:
            raise UnsafePickleError(path, _refusal(text)) from exc
        raise CorruptWeightsError(path, f"corrupt checkpoint pickle ({_first_line(exc)})") from exc
    except _TORCH_LOAD_ERRORS as exc:
        raise CorruptWeightsError(path, f"torch.load failed: {_first_line(exc)}") from exc
    for name, t in _flatten(obj, "", lambda o: isinstance(o, torch.Tensor)):
        dtype = str(t.dtype).removeprefix("torch.")
        yield TensorRef(name, tuple(t.shape), dtype, t.is_floating_point(), functools.partial(_to_numpy, t))


# What torch.load raises on a corrupt file (besides UnpicklingError): its C++ reader raises RuntimeError.
_TORCH_LOAD_ERRORS = (
    RuntimeError,
    EOFError,
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    AssertionError,
    OverflowError,
    RecursionError,
    LookupError,
    NotImplementedError,
    struct.error,
    zipfile.BadZipFile,
)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _refusal(text: str) -> str:
    """The weights_only refusal of torch in our words: the offending global named, never advice to disable the check.

    torch's message suggests re-running with ``weights_only=False`` or allow-listing the global; both would run
    the file's code, so neither is repeated here.
    """
    found = re.search(r"Unsupported global: GLOBAL ([\w.<>]+)", text)
    if found:
        what = f"asks for {found.group(1)}, outside torch.load's weights_only allow-list"
    else:
        detail = re.search(r"WeightsUnpickler error: ([^\n]*)", text)
        reason = detail.group(1) if detail else "a construct torch.load(weights_only=True) does not allow"
        reason = re.split(r"\.\s+(Please|Re-running|Check|If you)", reason)[0].strip().rstrip(".")
        what = f"is refused by torch.load's weights_only unpickler ({reason[:200]})"
    return f"the pickle {what}; refused before anything was executed (the file may run code: do not load it)"


def _to_numpy(t: Any) -> np.ndarray:
    import torch

    t = t.detach()
    if t.is_floating_point() and t.dtype not in (torch.float32, torch.float64):
        t = t.to(torch.float32)
    return np.array(t.numpy(), copy=True)
