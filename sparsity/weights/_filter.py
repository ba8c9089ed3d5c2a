"""Which tensors count as weight matrices.

The default keeps 2-D matrices and convolution kernels (3-D to 5-D), floating point, with at least two rows
and two columns, and skips biases, normalisation parameters, position ids and batch-norm statistics by name.
The decision is taken from the name, shape and dtype alone, before any data is read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["DEFAULT_EXCLUDE", "TensorFilter", "resolve_filter"]

#: Regular expressions (searched, case-insensitive, in the full tensor name) of tensors skipped by default.
DEFAULT_EXCLUDE: tuple[str, ...] = (
    r"(^|[._/])bias",  # bias, biases, bias_ih_l0
    r"(^|[._/])(\w*_)?b_(ih|hh)$",  # recurrent biases stored as enc_b_ih, b_hh
    r"norm",  # LayerNorm, layer_norm, RMSNorm, ln weights named *norm*
    r"(^|[._/])(ln|bn)(_?\d+|_f)?($|[._/])",
    r"position_ids",
    r"running_(mean|var)|num_batches_tracked",
)


@dataclass(frozen=True)
class TensorFilter:
    """A predicate on ``(name, shape, dtype)`` that selects the tensors to analyse.

    Parameters
    ----------
    min_ndim, max_ndim : int
        Kept tensors have ``min_ndim <= ndim <= max_ndim`` (default 2..5: matrices and conv kernels).
    min_side : int
        For tensors of 2 or more dimensions, the first dimension and the product of the others (the matrix a
        conv kernel is reshaped to) must both be at least ``min_side`` (default 2, which drops 1 x n
        "matrices" such as stored position ids).
    floating_only : bool
        Keep only floating (or quantised floating) tensors.
    exclude : tuple of str
        Regular expressions searched case-insensitively in the name; a match drops the tensor.
    include : tuple of str
        When non-empty, the name must match at least one of these to be kept (checked before ``exclude``).

    Examples
    --------
    >>> f = TensorFilter()
    >>> f("encoder.layer.0.attention.self.query.weight", (384, 384), "float32")
    True
    >>> f("encoder.layer.0.attention.self.query.bias", (384,), "float32")
    False
    >>> TensorFilter(include=(r"query",))("encoder.layer.0.output.dense.weight", (384, 1536), "float32")
    False
    """

    min_ndim: int = 2
    max_ndim: int = 5
    min_side: int = 2
    floating_only: bool = True
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    include: tuple[str, ...] = ()
    _compiled: tuple[tuple[re.Pattern[str], ...], tuple[re.Pattern[str], ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not 0 <= self.min_ndim <= self.max_ndim:
            raise ValueError(
                f"TensorFilter: need 0 <= min_ndim <= max_ndim, got min_ndim={self.min_ndim}, max_ndim={self.max_ndim}"
            )
        if self.min_side < 1:
            raise ValueError(f"TensorFilter: min_side must be >= 1, got {self.min_side}")
        for label, patterns in (("exclude", self.exclude), ("include", self.include)):
            if isinstance(patterns, str):
                raise TypeError(f"TensorFilter: {label} must be a tuple of regular expressions, got a str")
        try:
            compiled = (
                tuple(re.compile(p, re.IGNORECASE) for p in self.include),
                tuple(re.compile(p, re.IGNORECASE) for p in self.exclude),
            )
        except re.error as exc:
            raise ValueError(f"TensorFilter: invalid regular expression ({exc})") from exc
        object.__setattr__(self, "_compiled", compiled)

    def __call__(self, name: str, shape: tuple[int, ...], dtype: str, floating: bool | None = None) -> bool:
        """Whether the tensor is kept. ``floating`` defaults to "dtype name starts with float/bfloat"."""
        if not self.min_ndim <= len(shape) <= self.max_ndim:
            return False
        if len(shape) >= 2 and (shape[0] < self.min_side or math.prod(shape[1:]) < self.min_side):
            return False
        if floating is None:
            floating = dtype.startswith(("float", "bfloat"))
        if self.floating_only and not floating:
            return False
        include, exclude = self._compiled
        if include and not any(p.search(name) for p in include):
            return False
        return not any(p.search(name) for p in exclude)


Selector = TensorFilter | Callable[[str, tuple[int, ...], str], bool] | None


def resolve_filter(select: Selector | str) -> Callable[[str, tuple[int, ...], str, bool], bool]:
    """The ``select`` argument of :func:`load_weights` as a predicate of (name, shape, dtype, floating)."""
    if select is None or select == "all":
        return lambda name, shape, dtype, floating: True
    if select == "matrices":
        select = TensorFilter()
    if isinstance(select, TensorFilter):
        return select.__call__
    if isinstance(select, str):
        raise ValueError(f"select must be 'matrices', 'all', None, a TensorFilter or a callable; got {select!r}")
    if callable(select):
        user = select
        return lambda name, shape, dtype, floating: bool(user(name, shape, dtype))
    raise TypeError(
        f"select must be 'matrices', 'all', None, a TensorFilter or a callable; got {type(select).__name__}"
    )
