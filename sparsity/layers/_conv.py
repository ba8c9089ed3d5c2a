"""The conv-kernel convention: which matrices of a kernel ``(out, in, *kernel)`` are analysed (private).

One object, used by :func:`sparsity.analyze_matrix` / :func:`sparsity.analyze_weights` (default
``"slices"``, WeightWatcher's convention) and by the benchmark suite's cases (which pass ``"flatten"``, the
im2col matrix, explicitly: :data:`sparsity.harness.cases.SUITE_CONV`).

- ``"slices"``: the ``K = prod(kernel)`` matrices ``W[:, :, p]`` of shape ``(out, in)``, one per kernel
  position, as a ``(K, out, in)`` stack; their eigenvalues are pooled into one ESD of ``K min(out, in)`` values.
- ``"flatten"``: the single ``(out, in K)`` matrix (the im2col matrix, whose rank-k truncation is a low-rank
  factorisation of the layer); ``min(out, in K)`` eigenvalues.

The two give different ESDs (and in general different ``alpha_ww``) for the same kernel. A 2-D matrix is the
same under both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from sparsity._checks import check_choice

__all__ = ["CONV_MODES", "Conv", "ConvConvention"]

Conv = Literal["slices", "flatten"]
CONV_MODES: tuple[str, ...] = ("slices", "flatten")


@dataclass(frozen=True)
class ConvConvention:
    """How a conv kernel in PyTorch layout ``(out, in, *kernel)`` (3-D Conv1d to 5-D Conv3d) becomes matrices.

    Parameters
    ----------
    mode : {"slices", "flatten"}
        See :mod:`sparsity.layers._conv`.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.zeros((32, 16, 3, 3))
    >>> mats, K = ConvConvention("slices").matrices(W, xp=np)
    >>> mats.shape, K
    ((9, 32, 16), 9)
    >>> mats, K = ConvConvention("flatten").matrices(W, xp=np)
    >>> mats.shape, K
    ((32, 144), 9)
    """

    mode: Conv = "slices"

    def __post_init__(self) -> None:
        check_choice(self.mode, "conv", CONV_MODES)

    @classmethod
    def of(cls, conv: Conv | ConvConvention) -> ConvConvention:
        """``conv`` as a :class:`ConvConvention` (a mode string or the object itself)."""
        return conv if isinstance(conv, ConvConvention) else cls(conv)

    def matrices(self, W: Any, *, xp: Any) -> tuple[Any, int]:
        """The matrices to analyse and the number of kernel positions ``K`` (1 for a matrix).

        Parameters
        ----------
        W : array of shape (m, n) or (out, in, *kernel)
        xp : array namespace of ``W``

        Returns
        -------
        mats : array of shape (m, n), (out, in * K) ("flatten") or (K, out, in) ("slices")
            Views where the namespace allows (a reshape of a contiguous array).
        K : int
            ``prod(kernel)``.
        """
        shape = tuple(int(d) for d in W.shape)
        if len(shape) <= 2:
            return W, 1
        out, inn, K = shape[0], shape[1], math.prod(shape[2:])
        if self.mode == "flatten":
            return xp.reshape(W, (out, inn * K)), K
        return xp.permute_dims(xp.reshape(W, (out, inn, K)), (2, 0, 1)), K
