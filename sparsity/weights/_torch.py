"""PyTorch checkpoints (``.pt``, ``.pth``, ``.bin``, ``.ckpt``), loaded without running pickled code.

``engine="torch"`` uses ``torch.load(weights_only=True, mmap=True)`` (PyTorch's own restricted unpickler);
``engine="builtin"`` uses the torch-free reader of :mod:`sparsity.weights._torch_pickle`; ``"auto"`` picks
torch when it is installed. Nested dicts and lists are flattened to dotted names (``model.encoder.0.weight``);
non-tensor leaves (epochs, optimiser hyper-parameters) are ignored.
"""

from __future__ import annotations

import functools
import importlib.util
import pickle
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import numpy as np

from sparsity.weights._common import TensorRef, is_float_name
from sparsity.weights._errors import CorruptWeightsError, MissingDependencyError, UnsafePickleError
from sparsity.weights._torch_pickle import LazyTensor, read_legacy, read_zip

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
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=zip_format)
    except pickle.UnpicklingError as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise UnsafePickleError(path, f"torch.load(weights_only=True) refused it: {message}") from exc
        raise CorruptWeightsError(path, f"corrupt checkpoint pickle ({message})") from exc
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CorruptWeightsError(path, f"torch.load failed: {message}") from exc
    for name, t in _flatten(obj, "", lambda o: isinstance(o, torch.Tensor)):
        dtype = str(t.dtype).removeprefix("torch.")
        yield TensorRef(name, tuple(t.shape), dtype, t.is_floating_point(), functools.partial(_to_numpy, t))


def _to_numpy(t: Any) -> np.ndarray:
    import torch

    t = t.detach()
    if t.is_floating_point() and t.dtype not in (torch.float32, torch.float64):
        t = t.to(torch.float32)
    return np.array(t.numpy(), copy=True)
