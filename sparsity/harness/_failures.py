"""The one rule that tells a data error (an error row, the run succeeds) from a failure (the run fails).

An *expected* error is one that bad or unusual data raise: ``ValueError`` (numpy's ``LinAlgError`` included),
``FloatingPointError``, :class:`~sparsity.weights.WeightsError` (an unreadable, corrupt or unsupported weight file,
or a missing optional reader) and ``ModuleNotFoundError`` for a package outside sparsity (an optional dependency).
A case that raises one becomes a row with ``status = "error"`` and the run succeeds.

Any other exception (``TypeError``, ``AttributeError``, ``KeyError``, ``AssertionError``, ...: a bug, or a suite
option the code cannot take) also becomes such a row, so nothing finished is lost, but its record keeps the full
traceback (the key ``traceback``, not a results column): the runner writes it to ``errors.log`` and the run fails.
"""

from __future__ import annotations

import traceback
from typing import Any

from sparsity.weights import WeightsError

__all__ = ["EXPECTED_ERRORS", "error_record", "is_expected_error"]

EXPECTED_ERRORS: tuple[type[Exception], ...] = (ValueError, FloatingPointError, WeightsError)
"""Exception classes that bad or unusual data raise: such a case is an error row and the run still succeeds."""


def is_expected_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a data error (an error row, the run succeeds) rather than a failure (the run fails).

    Expected: instances of :data:`EXPECTED_ERRORS`, and ``ModuleNotFoundError`` for a module outside
    ``sparsity`` (an optional dependency that is not installed). Everything else is a failure.

    Examples
    --------
    >>> is_expected_error(ValueError("too few values")), is_expected_error(KeyError("alpha"))
    (True, False)
    >>> is_expected_error(ModuleNotFoundError("no cupy", name="cupy"))
    True
    """
    if isinstance(exc, ModuleNotFoundError):
        return bool(exc.name) and str(exc.name).split(".")[0] != "sparsity"
    return isinstance(exc, EXPECTED_ERRORS)


def error_record(row: dict[str, Any], exc: BaseException | str) -> dict[str, Any]:
    """``row`` as an error row record; a failure (see :func:`is_expected_error`) also keeps its full traceback.

    A ``str`` is a reason already in words (an unreadable tensor the loader skipped): an expected error.
    """
    if isinstance(exc, str):
        return {"kind": "row", **row, "status": "error", "error": exc}
    record = {"kind": "row", **row, "status": "error", "error": f"{type(exc).__name__}: {exc}"}
    if not is_expected_error(exc):
        record["traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return record
