"""One vocabulary of parameter checks for every public function (the floor, with :mod:`sparsity._input`).

Each check returns the normalised value or raises with one message format that names the parameter, states the
rule and shows the value received::

    n_boot must be an integer >= 1; got 0
    method must be one of ['auto', 'gram', 'svd']; got 'qr'

``TypeError`` for a value of the wrong type, ``ValueError`` for a value of the right type outside the rule.
Interval notation follows mathematics: ``[0, 1)`` includes 0 and excludes 1.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "as_generator",
    "check_bool",
    "check_choice",
    "check_int",
    "check_k",
    "check_real",
]

T = TypeVar("T")


def _received(value: Any) -> str:
    if isinstance(value, (numbers.Number, str, type(None))):
        return repr(value)
    return f"{value!r} ({type(value).__name__})"


def _interval(low: float | None, high: float | None, closed: str) -> str:
    """The rule as text: ``>= 1``, ``> 0``, ``in [0, 1)``."""
    left = closed in ("both", "left")
    right = closed in ("both", "right")
    if low is not None and high is not None:
        return f"in {'[' if left else '('}{low:g}, {high:g}{']' if right else ')'}"
    if low is not None:
        return f"{'>=' if left else '>'} {low:g}"
    if high is not None:
        return f"{'<=' if right else '<'} {high:g}"
    return ""


def check_int(
    value: Any,
    name: str,
    *,
    low: int | None = None,
    high: int | None = None,
    allow_none: bool = False,
) -> Any:
    """An integer (not a bool) with ``low <= value <= high``; returns ``int`` (or None when allowed).

    Integral floats are refused: a count given as ``2.0`` is almost always a mistake elsewhere.

    Examples
    --------
    >>> check_int(3, "n_boot", low=1)
    3
    >>> check_int(0, "n_boot", low=1)
    Traceback (most recent call last):
    ...
    ValueError: n_boot must be an integer >= 1; got 0
    """
    if value is None and allow_none:
        return None
    rule = "an integer" + (" " + _interval(low, high, "both") if low is not None or high is not None else "")
    if allow_none:
        rule = "None or " + rule
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {rule}; got {_received(value)}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"{name} must be {rule}; got {v!r}")
    return v


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    closed: str = "both",
    allow_inf: bool = False,
    allow_none: bool = False,
) -> Any:
    """A real number (not a bool, not NaN) in an interval; returns ``float`` (or None when allowed).

    Parameters
    ----------
    value : Any
        What the caller passed.
    name : str
        The parameter's name, for the message.
    low, high : float, optional
        Bounds; None for unbounded.
    closed : {"both", "left", "right", "neither"}
        Which bounds belong to the interval.
    allow_inf : bool
        Whether +-inf is accepted (when inside the bounds).
    allow_none : bool
        Whether None is accepted (returned as None).

    Examples
    --------
    >>> check_real(2, "p", low=0, closed="neither", allow_inf=True)
    2.0
    >>> check_real(0.0, "p", low=0, closed="neither")
    Traceback (most recent call last):
    ...
    ValueError: p must be a finite real number > 0; got 0.0
    """
    if value is None and allow_none:
        return None
    rule = "a real number" if allow_inf else "a finite real number"
    bounds = _interval(low, high, closed)
    rule = f"{rule} {bounds}" if bounds else rule
    if allow_none:
        rule = "None or " + rule
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {rule}; got {_received(value)}")
    v = float(value)
    left = closed in ("both", "left")
    right = closed in ("both", "right")
    ok = not math.isnan(v) and (allow_inf or math.isfinite(v))
    if ok and low is not None:
        ok = v >= low if left else v > low
    if ok and high is not None:
        ok = v <= high if right else v < high
    if not ok:
        raise ValueError(f"{name} must be {rule}; got {value!r}")
    return v


def check_bool(value: Any, name: str) -> bool:
    """``True`` or ``False`` (NumPy booleans included); anything else is a ``TypeError``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False; got {_received(value)}")


def check_choice(value: T, name: str, choices: Sequence[T]) -> T:
    """One of ``choices`` (compared with ``==``; strings are case-sensitive).

    Examples
    --------
    >>> check_choice("fro", "norm", ("fro", "spectral"))
    'fro'
    """
    try:
        ok = value in choices
    except TypeError:  # unhashable or incomparable
        ok = False
    if not ok or (isinstance(value, bool) and not any(isinstance(c, bool) for c in choices)):
        raise ValueError(f"{name} must be one of {list(choices)}; got {_received(value)}")
    return value


def check_k(k: Any, n: int, name: str = "k", *, n_name: str = "n") -> np.ndarray:
    """Integer ``k`` (a scalar or an array of any shape) with ``0 <= k <= n``; returns an int64 array, same shape.

    Integral floats (``2.0``) are accepted as the integers they equal; bools, fractions, NaN and other types are
    refused.

    Examples
    --------
    >>> check_k([1, 2.0], 5)
    array([1, 2])
    """
    if isinstance(k, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer or an array of integers; got {k!r}")
    try:
        karr = np.asarray(k)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an integer or an array of integers; got {_received(k)}") from None
    if karr.dtype.kind == "f" and karr.size and np.all(np.isfinite(karr)) and np.all(karr == np.round(karr)):
        karr = karr.astype(np.int64)
    if karr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer or an array of integers; got {k!r} (dtype {karr.dtype})")
    if karr.size and (karr.min() < 0 or karr.max() > n):
        bad = karr[(karr < 0) | (karr > n)]
        raise ValueError(f"{name} must satisfy 0 <= {name} <= {n_name} = {n}; got {bad.ravel()[:5].tolist()}")
    return karr.astype(np.int64)


def as_generator(rng: Any, name: str = "rng") -> np.random.Generator:
    """``None`` (fresh entropy), an integer seed >= 0, a ``SeedSequence`` or a ``Generator`` -> a ``Generator``.

    A ``Generator`` is returned as is (its state advances with the caller's draws); legacy ``RandomState`` and
    global seeding are refused, as DESIGN.md asks.

    Examples
    --------
    >>> int(as_generator(0).integers(10)) == int(np.random.default_rng(0).integers(10))
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)):
        if int(rng) < 0:
            raise ValueError(f"{name} must be None, an integer seed >= 0 or a numpy.random.Generator; got {rng!r}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"{name} must be None, an integer seed >= 0 or a numpy.random.Generator; got {_received(rng)}")
