"""What :func:`sparsity.analyze_weights` accepts as a model: the ``(name, tensor)`` pairs of a source (private).

Accepted, in this order:

- a path (``str`` or ``os.PathLike``): a weight file or sharded folder, read lazily by
  :func:`sparsity.load_weights`;
- a mapping ``{name: array}``;
- a model object with ``named_parameters()`` or ``state_dict()`` (duck-typed: a PyTorch ``nn.Module``, a
  Hugging Face model, anything shaped like them; torch is never imported). ``named_parameters()`` is preferred:
  it lists each learnable tensor once (tied weights once) and leaves out buffers such as attention masks, which
  ``state_dict()`` includes. Each tensor is detached, moved to the CPU, widened by the one input layer
  (:func:`sparsity._input.as_array`: bfloat16 and float16 become float32) and converted to NumPy (DLPack),
  one at a time, when the analysis reaches it;
- any other iterable of ``(name, array)`` pairs.

Anything else raises ``TypeError`` naming what is accepted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sparsity._array_api import to_numpy
from sparsity._input import as_array
from sparsity.weights import load_weights

__all__ = ["ACCEPTED", "model_tensor_to_numpy", "weight_items"]

ACCEPTED = (
    "a path to a weight file or folder (str or os.PathLike), a mapping {name: array}, a model with "
    "named_parameters() or state_dict() (e.g. a torch.nn.Module), or an iterable of (name, array) pairs"
)
"""What a source may be (the text of the ``TypeError``)."""


def model_tensor_to_numpy(tensor: Any, name: str) -> Any:
    """A model's tensor as a NumPy array: detached, on the CPU, narrow floats widened to float32.

    Objects without ``detach`` (NumPy arrays in a custom ``state_dict``) pass through the input layer as they
    are; a tensor whose conversion fails is returned unchanged, so that its row reports the error.
    """
    t = tensor.detach() if hasattr(tensor, "detach") else tensor
    t = t.cpu() if hasattr(t, "cpu") else t
    try:
        arr, _ = as_array(t, f"tensor {name!r}", check_finite=False)
        return to_numpy(arr)
    except (TypeError, ValueError, RuntimeError):
        return t


def _model_pairs(pairs: Iterable[tuple[Any, Any]]) -> Iterator[tuple[str, Any]]:
    for name, tensor in pairs:
        yield str(name), model_tensor_to_numpy(tensor, str(name))


def _checked_pairs(source: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
    for i, item in enumerate(source):
        if not (isinstance(item, tuple) and len(item) == 2) and not (isinstance(item, list) and len(item) == 2):
            raise TypeError(
                f"source must be {ACCEPTED}; item {i} of the iterable is a {type(item).__name__}, "
                "not a (name, array) pair"
            )
        yield item[0], item[1]


def weight_items(source: Any) -> Iterable[tuple[Any, Any]]:
    """The ``(name, array)`` pairs of ``source`` (see the module docstring), lazily where the source is lazy.

    Raises
    ------
    TypeError
        A source that is none of the accepted kinds (or an iterable whose items are not pairs).

    Examples
    --------
    >>> import numpy as np
    >>> [name for name, _ in weight_items({"w": np.ones((2, 2))})]
    ['w']
    >>> weight_items(3)
    Traceback (most recent call last):
    ...
    TypeError: source must be a path to a weight file or folder (str or os.PathLike), a mapping {name: array}, \
a model with named_parameters() or state_dict() (e.g. a torch.nn.Module), or an iterable of (name, array) pairs; \
got int
    """
    if isinstance(source, (str, os.PathLike)):
        return load_weights(source)
    if isinstance(source, Mapping):
        return source.items()
    for attr in ("named_parameters", "state_dict"):
        method = getattr(source, attr, None)
        if callable(method) and not isinstance(source, type):
            pairs = method()
            return _model_pairs(pairs.items() if isinstance(pairs, Mapping) else pairs)
    if isinstance(source, Iterable) and not isinstance(source, (bytes, bytearray)):
        return _checked_pairs(source)
    raise TypeError(f"source must be {ACCEPTED}; got {type(source).__name__}")
