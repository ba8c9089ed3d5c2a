"""Lazy loaders for real weight files: (name, numpy array) pairs, one tensor in memory at a time.

Supported formats (detected from the content, see :func:`detect_format`): safetensors (single file or a
sharded directory with its ``*.safetensors.index.json``), NumPy ``.npy``/``.npz``, PyTorch checkpoints
(zip and legacy, read without running pickled code), ONNX (initializers and Constant nodes), GGUF (float and
dequantisable types). Floating tensors narrower than 32 bits (float16, bfloat16, float8) come out as float32;
float32 and float64 are kept.

Examples
--------
>>> import numpy as np, os, tempfile
>>> d = tempfile.mkdtemp()
>>> np.savez(os.path.join(d, "w.npz"), fc=np.ones((4, 3), np.float32), fc_bias=np.ones(4, np.float32))
>>> [(name, w.shape) for name, w in load_weights(os.path.join(d, "w.npz"))]
[('fc', (4, 3))]
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from sparsity.weights._common import TensorRef
from sparsity.weights._detect import Format, detect_format
from sparsity.weights._errors import (
    CorruptWeightsError,
    MissingDependencyError,
    UnknownFormatError,
    UnsafePickleError,
    WeightsError,
    WeightsNotFoundError,
    WeightsWarning,
)
from sparsity.weights._filter import DEFAULT_EXCLUDE, Selector, TensorFilter, resolve_filter
from sparsity.weights._gguf import gguf_entries
from sparsity.weights._numpy import npy_entries, npz_entries
from sparsity.weights._onnx import onnx_entries
from sparsity.weights._safetensors import INDEX_SUFFIX, safetensors_entries, sharded_entries
from sparsity.weights._torch import Engine, torch_entries

__all__ = [
    "DEFAULT_EXCLUDE",
    "CorruptWeightsError",
    "MissingDependencyError",
    "SkippedTensor",
    "TensorFilter",
    "UnknownFormatError",
    "UnsafePickleError",
    "WeightsError",
    "WeightsNotFoundError",
    "WeightsReader",
    "WeightsWarning",
    "detect_format",
    "load_weights",
]

#: File name endings tried when ``path`` is a directory (content detection still decides the format).
WEIGHT_SUFFIXES = (".safetensors", ".npz", ".npy", ".pt", ".pth", ".bin", ".ckpt", ".onnx", ".gguf")


@dataclass(frozen=True)
class SkippedTensor:
    """A tensor that passed the filter but was not yielded, and why."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    reason: str


def _file_entries(path: str, fmt: Format, engine: Engine) -> Iterator[TensorRef]:
    readers: dict[str, Callable[[], Iterator[TensorRef]]] = {
        "safetensors": lambda: safetensors_entries(path),
        "npy": lambda: npy_entries(path, Path(path).stem),
        "npz": lambda: npz_entries(path),
        "torch": lambda: torch_entries(path, zip_format=True, engine=engine),
        "torch-legacy": lambda: torch_entries(path, zip_format=False, engine=engine),
        "gguf": lambda: gguf_entries(path),
        "onnx": lambda: onnx_entries(path),
    }
    return readers[fmt]()


def _directory_entries(path: str, engine: Engine) -> tuple[str, list[TensorRef], list[SkippedTensor]]:
    """Tensors of a directory: its shard index, or every weight file in it.

    A file that cannot be read (a ``training_args.bin`` pickle next to the weights, say) is recorded as a
    skipped entry and the others are read; only when no file can be read is the first error raised.
    """
    root = Path(path)
    indexes = sorted(root.glob("*" + INDEX_SUFFIX))
    if indexes:
        refs = [ref for index in indexes for ref in sharded_entries(str(index))]
        return "safetensors-sharded", refs, []
    files = sorted(p for p in root.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    if not files:
        raise WeightsNotFoundError(path, f"directory holds no weight file (looked for {', '.join(WEIGHT_SUFFIXES)})")
    refs, formats, bad, errors = [], set(), [], []
    for file in files:
        prefix = f"{file.name}:" if len(files) > 1 else ""
        try:
            fmt = detect_format(file)
            found = list(_file_entries(str(file), fmt, engine))
        except WeightsError as exc:
            errors.append(exc)
            bad.append(SkippedTensor(file.name, (), "file", str(exc)))
            continue
        formats.add(fmt)
        refs += [TensorRef(prefix + r.name, r.shape, r.dtype, r.floating, r.load, r.unsupported) for r in found]
    if not formats:
        raise errors[0]
    return "+".join(sorted(formats)), refs, bad


class WeightsReader(Iterator[tuple[str, np.ndarray]]):
    """Iterator over the selected tensors of a weight file: yields ``(name, array)``, reading one at a time.

    Built by :func:`load_weights`; the headers are already parsed, so ``len(reader)``, ``reader.names`` and
    ``reader.shapes`` are known before any tensor data is read.

    Attributes
    ----------
    path : str
        The file or directory.
    format : str
        Detected format (``"safetensors"``, ``"torch"``, ...; ``"safetensors-sharded"`` for an index).
    names : list of str
        Selected tensors, in the order they will be yielded.
    shapes : dict of str to tuple
        Their shapes.
    skipped : list of SkippedTensor
        Selected tensors that could not be decoded (unsupported dtype or quantisation; with
        ``errors="skip"`` also unreadable ones), filled in as iteration goes.
    """

    def __init__(self, path: str, fmt: str, refs: list[TensorRef], skipped: list[SkippedTensor], errors: str):
        self.path = path
        self.format = fmt
        self._refs = refs
        self._next = 0
        self._errors = errors
        self.skipped = skipped
        self.names = [ref.name for ref in refs]
        self.shapes = {ref.name: ref.shape for ref in refs}

    def __len__(self) -> int:
        return len(self._refs)

    def __iter__(self) -> WeightsReader:
        return self

    def __next__(self) -> tuple[str, np.ndarray]:
        while self._next < len(self._refs):
            ref = self._refs[self._next]
            self._next += 1
            try:
                return ref.name, ref.load()
            except WeightsError as exc:
                if self._errors == "raise":
                    raise
                self.skipped.append(SkippedTensor(ref.name, ref.shape, ref.dtype, exc.problem))
                warnings.warn(f"skipped unreadable tensor: {exc}", WeightsWarning, stacklevel=2)
        raise StopIteration

    def __repr__(self) -> str:
        return f"WeightsReader({self.path!r}, format={self.format!r}, tensors={len(self)})"


def load_weights(
    path: str | os.PathLike[str],
    *,
    select: Selector | Literal["matrices", "all"] = "matrices",
    engine: Engine = "auto",
    errors: Literal["raise", "skip"] = "raise",
) -> WeightsReader:
    """Open a weight file or directory and iterate lazily over its weight tensors.

    Parameters
    ----------
    path : str or os.PathLike
        A weight file (format detected from content), or a directory: its ``*.safetensors.index.json`` shard
        index if it has one, otherwise every file in it ending in one of ``WEIGHT_SUFFIXES`` (names are then
        prefixed ``"<file name>:"`` when there are several files; a file that cannot be read is skipped with
        a warning and listed in ``reader.skipped``, unless no file can be read).
    select : {"matrices", "all"}, TensorFilter, callable or None
        Which tensors to yield. ``"matrices"`` (default) is ``TensorFilter()``: 2-D matrices and conv kernels,
        floating, skipping biases, norms and position ids. ``"all"`` or None yields every tensor. A callable
        ``select(name, shape, dtype) -> bool`` decides from the header alone (``dtype`` is the stored type).
    engine : {"auto", "torch", "builtin"}
        PyTorch checkpoints only: ``torch.load(weights_only=True)`` or the torch-free restricted reader;
        ``"auto"`` uses torch when installed. Neither runs pickled code.
    errors : {"raise", "skip"}
        A tensor whose bytes are unreadable (truncated, corrupt) raises :class:`WeightsError` (the iterator
        can still be resumed), or with ``"skip"`` is recorded in ``reader.skipped`` with a warning.

    Returns
    -------
    WeightsReader
        Iterator of ``(name, array)``; ``array`` has the stored shape (C order) and dtype float32 or float64
        for floating tensors (others keep their integer/bool dtype when selected).

    Raises
    ------
    WeightsNotFoundError
        ``path`` is missing, or a directory without weight files.
    UnknownFormatError, CorruptWeightsError, UnsafePickleError, MissingDependencyError
        Subclasses of :class:`WeightsError`; each names the file and the problem.

    Notes
    -----
    Tensors with an unsupported dtype or GGUF quantisation, and ``.npz`` object-array members (which would
    unpickle), are never loaded: they are listed in ``reader.skipped`` and one :class:`WeightsWarning` is
    emitted. Files are treated as untrusted: no pickled code runs, every size in a file is checked against the
    bytes it holds before anything is allocated, and a bad file raises a one-line :class:`WeightsError`
    (README, "Untrusted weight files").

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> f = os.path.join(tempfile.mkdtemp(), "w.npy")
    >>> np.save(f, np.arange(6.0).reshape(2, 3))
    >>> reader = load_weights(f)
    >>> len(reader), reader.names
    (1, ['w'])
    >>> next(reader)[1].shape
    (2, 3)
    """
    if engine not in ("auto", "torch", "builtin"):
        raise ValueError(f"engine must be 'auto', 'torch' or 'builtin'; got {engine!r}")
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip'; got {errors!r}")
    keep = resolve_filter(select)
    path = os.fspath(path)
    if not os.path.exists(path):
        raise WeightsNotFoundError(path, "no such file or directory")
    if os.path.isdir(path):
        fmt, refs, bad_files = _directory_entries(path, engine)
    else:
        fmt, bad_files = detect_format(path), []
        refs = list(_file_entries(path, fmt, engine))
    for bad in bad_files:
        warnings.warn(f"skipping unreadable file: {bad.reason}", WeightsWarning, stacklevel=2)
    selected = [ref for ref in refs if keep(ref.name, ref.shape, ref.dtype, ref.floating)]
    undecodable = [SkippedTensor(r.name, r.shape, r.dtype, r.unsupported) for r in selected if r.unsupported]
    if undecodable:
        listed = ", ".join(f"{s.name} ({s.dtype})" for s in undecodable[:5])
        warnings.warn(
            f"{path}: skipping {len(undecodable)} tensor(s) that cannot be decoded: {listed}"
            + (" ..." if len(undecodable) > 5 else ""),
            WeightsWarning,
            stacklevel=2,
        )
    usable = [ref for ref in selected if not ref.unsupported]
    return WeightsReader(path, fmt, usable, bad_files + undecodable, errors)
