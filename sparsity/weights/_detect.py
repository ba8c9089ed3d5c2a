"""Format detection from a file's first bytes.

The extension only breaks ties: a ``.onnx`` file is parsed as ONNX whatever its first byte, and a file too
short to identify is reported as truncated when its extension names a weight format.


=================  ==========================================================================
format             signature
=================  ==========================================================================
``safetensors``    8-byte little-endian header length ``n`` (< file size), then ``{``
``npy``            ``\\x93NUMPY``
``npz``            zip (``PK\\x03\\x04``) whose members are ``*.npy``
``torch``          zip holding ``data.pkl`` (torch.save >= 1.6), or a pickle (``\\x80`` + protocol)
                   whose first object is PyTorch's legacy magic number
``gguf``           ``GGUF``
``onnx``           protobuf starting with field 1 (``ir_version``, tag byte ``0x08``), or any ``.onnx`` file,
                   that parses as a model
=================  ==========================================================================
"""

from __future__ import annotations

import os
import struct
import zipfile
from typing import Literal

from sparsity.weights._errors import ZIP_ERRORS, CorruptWeightsError, UnknownFormatError
from sparsity.weights._torch_pickle import PICKLE_ERRORS, RestrictedUnpickler, one_line

__all__ = ["FORMATS", "Format", "detect_format"]

Format = Literal["safetensors", "npy", "npz", "torch", "torch-legacy", "gguf", "onnx"]
FORMATS: tuple[str, ...] = ("safetensors", "npy", "npz", "torch", "torch-legacy", "gguf", "onnx")

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_KNOWN_SUFFIXES = frozenset({".safetensors", ".npz", ".npy", ".pt", ".pth", ".bin", ".ckpt", ".onnx", ".gguf"})


def _zip_kind(path: str) -> Format:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except ZIP_ERRORS as exc:
        raise CorruptWeightsError(path, f"truncated or corrupt zip archive ({type(exc).__name__}: {exc})") from exc
    if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
        raise UnknownFormatError(
            path, "a TorchScript archive (code + constants); save its state_dict() with torch.save instead"
        )
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        return "torch"
    if names and all(n.endswith(".npy") for n in names if not n.endswith("/")):
        return "npz"
    raise UnknownFormatError(path, f"a zip archive that is neither .npz nor a torch checkpoint ({names[:5]})")


def _is_legacy_torch(path: str) -> bool:
    """Whether the first pickle of the file is PyTorch's legacy magic number (read by the restricted unpickler)."""
    with open(path, "rb") as fh:
        try:
            first = RestrictedUnpickler(fh, path, legacy=True, limit=os.path.getsize(path)).load()
        except PICKLE_ERRORS as exc:
            raise CorruptWeightsError(path, f"starts like a pickle but does not unpickle ({one_line(exc)})") from exc
    return first == _LEGACY_MAGIC


def detect_format(path: str | os.PathLike[str]) -> Format:
    """Identify a weight file's format from its content.

    Parameters
    ----------
    path : str or os.PathLike
        A file.

    Returns
    -------
    str
        One of ``"safetensors"``, ``"npy"``, ``"npz"``, ``"torch"`` (zip), ``"torch-legacy"``, ``"gguf"``,
        ``"onnx"``.

    Raises
    ------
    UnknownFormatError
        The content matches no supported format (plain pickles are refused: they can run code).
    CorruptWeightsError
        The signature matches but the container is broken (a truncated zip, say).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "w.bin")
    >>> np.save(open(f, "wb"), np.eye(3))
    >>> detect_format(f)
    'npy'
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head:
        raise UnknownFormatError(path, "empty file")
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"GGUF"):
        return "gguf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(path)
    if len(head) >= 9 and head[8:9] == b"{":
        (n,) = struct.unpack("<Q", head[:8])
        if n <= size - 8:
            return "safetensors"
        raise CorruptWeightsError(path, f"truncated safetensors: header length {n} but the file has {size} bytes")
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        if _is_legacy_torch(path):
            return "torch-legacy"
        raise UnknownFormatError(
            path, "a plain pickle, not a PyTorch checkpoint; pickles are not loaded (they run code)"
        )
    suffix = os.path.splitext(path)[1].lower()
    if head[0] == 0x08 or suffix == ".onnx":  # field 1 (ir_version) first, as every ONNX writer emits it
        return "onnx"
    if len(head) < 16 and suffix in _KNOWN_SUFFIXES:
        raise CorruptWeightsError(path, f"truncated: {size} bytes is too short for a {suffix} file")
    raise UnknownFormatError(
        path,
        f"unrecognised content (first bytes {head[:8]!r}); expected safetensors, npy/npz, torch, ONNX, GGUF",
    )
