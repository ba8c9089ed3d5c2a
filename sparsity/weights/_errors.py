"""Exceptions raised by the weight loaders.

Every error names the file (and the tensor, where there is one) and states the problem, so that the command
line can print it as one line.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib

__all__ = [
    "ZIP_ERRORS",
    "CorruptWeightsError",
    "MissingDependencyError",
    "UnknownFormatError",
    "UnsafePickleError",
    "WeightsError",
    "WeightsNotFoundError",
    "WeightsWarning",
]


class WeightsError(Exception):
    """A weight file or directory that cannot be read.

    Parameters
    ----------
    path : str or os.PathLike
        The file (or directory) concerned.
    problem : str
        What is wrong, in words.
    tensor : str, optional
        The tensor concerned, when the problem is local to one tensor.

    Attributes
    ----------
    path, problem, tensor
        As given; ``str(error)`` joins them into one line.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str, tensor: str | None = None) -> None:
        where = f"{os.fspath(path)}" + (f" [tensor {tensor!r}]" if tensor is not None else "")
        # The base constructor runs first: ImportError's (MissingDependencyError) resets ``self.path`` to None.
        super().__init__(f"{where}: {problem}")
        self.path = os.fspath(path)
        self.problem = problem
        self.tensor = tensor


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """The path does not exist, or a directory holds no weight file."""


class UnknownFormatError(WeightsError):
    """The content matches none of the supported formats."""


class CorruptWeightsError(WeightsError):
    """The file has a known format but is truncated or internally inconsistent."""


class UnsafePickleError(WeightsError):
    """A pickle asks for a global outside the allow-list (it would run code); nothing was executed."""


class MissingDependencyError(WeightsError, ImportError):  # type: ignore[misc]  # path: str, not ImportError's str | None
    """Reading this format needs an optional package that is not installed."""


class WeightsWarning(UserWarning):
    """A tensor was skipped (unsupported dtype or quantisation, or unreadable with ``errors="skip"``)."""


#: What :mod:`zipfile` raises on a corrupt archive or member (a bad header, CRC or compressed stream, an
#: unknown compression method or zip version); the loaders turn each into a :class:`CorruptWeightsError`.
ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, zlib.error, struct.error)
