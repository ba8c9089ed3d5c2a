"""Offline data, small networks and the seeded training loop of the training study (private; needs torch).

The data: scikit-learn's ``digits`` (bundled with scikit-learn, no download) and a teacher-student regression
``y = A x + noise`` whose teacher ``A = U diag(s) V^T`` has a known rank ``r = len(s)`` and known singular values
``s``. The network: a ReLU multilayer perceptron trained by minibatch SGD in float32 on one CPU thread with
torch's deterministic algorithms; its initial weights (PyTorch's ``nn.Linear`` default,
``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``) and the minibatch order come from NumPy generators, so no global random
state is read or written and the same seed gives the same weights bit for bit.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["Snapshot", "TaskData", "digits_data", "missing_packages", "teacher_data", "train_snapshots"]


@dataclass(frozen=True)
class TaskData:
    """A learning task: train and test arrays and what is known about its ground truth.

    Attributes
    ----------
    name : str
        ``"digits"`` or ``"teacher"``.
    kind : {"classification", "regression"}
        Cross-entropy with accuracy as the score, or mean squared error with R^2 as the score.
    x_train, x_test : ndarray of shape (n, d), float32
    y_train, y_test : ndarray of shape (n,) int64 labels, or (n, n_out) float32 targets
    n_out : int
        Classes or outputs.
    teacher_sv : tuple of float
        Singular values of the teacher (empty for ``digits``); its rank is their number.
    teacher_right : ndarray of shape (d, r) or None
        Orthonormal basis of the teacher's row space (the input directions the target depends on).
    """

    name: str
    kind: Literal["classification", "regression"]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_out: int
    teacher_sv: tuple[float, ...] = ()
    teacher_right: np.ndarray | None = None


@dataclass(frozen=True)
class Snapshot:
    """Weights and metrics after ``epoch`` epochs (0 = initialization); ``weights[i]`` has shape (out, in)."""

    epoch: int
    weights: tuple[np.ndarray, ...]
    train_loss: float
    test_loss: float
    train_score: float
    test_score: float


def missing_packages(task: str) -> list[str]:
    """The packages the task needs that are not installed (found without importing them)."""
    need = ["torch"] + (["sklearn"] if task == "digits" else [])
    return [p for p in need if importlib.util.find_spec(p) is None]


def _split(n: int, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(n)
    n_test = max(1, round(test_fraction * n))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def digits_data(rng: np.random.Generator, *, test_fraction: float = 0.25) -> TaskData:
    """scikit-learn's 8x8 digits (1797 images, 10 classes), standardised with the train split's statistics."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    train, test = _split(x.shape[0], test_fraction, rng)
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    std[std == 0] = 1.0
    z = ((x - mean) / std).astype(np.float32)
    y = y.astype(np.int64)
    return TaskData("digits", "classification", z[train], y[train], z[test], y[test], 10)


def teacher_data(
    rng: np.random.Generator,
    *,
    d: int,
    n_out: int,
    teacher_sv: Sequence[float],
    n_train: int,
    n_test: int,
    noise: float,
) -> TaskData:
    """Teacher-student regression: ``x ~ N(0, I_d)``, ``y = A x + noise * eps`` with ``A = U diag(s) V^T``.

    ``U`` (n_out x r) and ``V`` (d x r) are Haar-random orthonormal frames (QR of Gaussian matrices with the
    signs of R's diagonal fixed), so ``A`` has rank ``r = len(teacher_sv)`` and singular values ``teacher_sv``.
    """
    s = np.asarray(teacher_sv, dtype=np.float64)
    r = s.size

    def frame(rows: int) -> np.ndarray:
        q, rr = np.linalg.qr(rng.standard_normal((rows, r)))
        return q * np.sign(np.diag(rr))

    u, v = frame(n_out), frame(d)
    a = (u * s) @ v.T
    x = rng.standard_normal((n_train + n_test, d))
    y = x @ a.T + noise * rng.standard_normal((n_train + n_test, n_out))
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    return TaskData(
        "teacher", "regression", x32[:n_train], y32[:n_train], x32[n_train:], y32[n_train:], n_out,
        tuple(float(t) for t in s), v,
    )  # fmt: skip


def _init_layers(sizes: Sequence[int], rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """PyTorch's default ``nn.Linear`` initialization, drawn from ``rng``.

    Weight and bias ``U(-b, b)``, ``b = 1/sqrt(fan_in)`` (entry variance ``1/(3 fan_in)``).
    """
    out = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        b = 1.0 / math.sqrt(fan_in)
        w = rng.uniform(-b, b, (fan_out, fan_in)).astype(np.float32)
        out.append((w, rng.uniform(-b, b, fan_out).astype(np.float32)))
    return out


def _build(torch: Any, layers: list[tuple[np.ndarray, np.ndarray]]) -> tuple[Any, list[Any]]:
    mods: list[Any] = []
    linears = []
    for i, (w, b) in enumerate(layers):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        linears.append(lin)
        mods += [lin] if i == len(layers) - 1 else [lin, torch.nn.ReLU()]
    return torch.nn.Sequential(*mods), linears


def _evaluate(torch: Any, net: Any, data: TaskData, tensors: dict[str, Any]) -> tuple[float, float, float, float]:
    """(train loss, test loss, train score, test score) on the whole splits."""
    out: list[float] = []
    with torch.no_grad():
        for split in ("train", "test"):
            x, y = tensors[f"x_{split}"], tensors[f"y_{split}"]
            pred = net(x)
            if data.kind == "classification":
                loss = torch.nn.functional.cross_entropy(pred, y)
                score = (pred.argmax(dim=1) == y).double().mean()
            else:
                loss = torch.nn.functional.mse_loss(pred, y)
                yd = y.double()
                score = 1.0 - ((pred.double() - yd) ** 2).sum() / ((yd - yd.mean(dim=0)) ** 2).sum()
            out += [float(loss), float(score)]
    return out[0], out[2], out[1], out[3]


def _snapshot(epoch: int, linears: list[Any], metrics: tuple[float, float, float, float]) -> Snapshot:
    weights = tuple(lin.weight.detach().numpy().copy() for lin in linears)
    return Snapshot(epoch, weights, *metrics)


def train_snapshots(
    data: TaskData,
    *,
    hidden: Sequence[int],
    batch_size: int,
    lr: float,
    epochs: int,
    momentum: float,
    weight_decay: float,
    rng: np.random.Generator,
) -> tuple[list[Snapshot], str]:
    """Train an MLP by minibatch SGD and snapshot it after every epoch (epoch 0 = initialization).

    The initial weights are drawn from ``rng`` first, then one permutation of the train set per epoch. Training
    runs with one torch thread and deterministic algorithms, both restored afterwards. A non-finite loss stops
    training: the snapshots so far are returned with a note.

    Returns
    -------
    snapshots : list of Snapshot
        ``epochs + 1`` of them unless training diverged.
    note : str
        Empty, or why training stopped early.
    """
    import torch

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        return _train_body(torch, data, hidden, batch_size, lr, epochs, momentum, weight_decay, rng)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def _sgd_step(torch: Any, params: list[Any], bufs: list[Any], lr: float, momentum: float, weight_decay: float) -> None:
    """One step of ``torch.optim.SGD``'s rule (no dampening, no Nesterov), written out.

    ``g = grad + weight_decay * p``; ``buf = momentum * buf + g`` (``buf = g`` without momentum);
    ``p -= lr * buf``. Written out because ``torch.optim`` imports torch's compiler stack (~800 modules,
    seconds) on its first step.
    """
    with torch.no_grad():
        for p, buf in zip(params, bufs, strict=True):
            g = p.grad if weight_decay == 0 else p.grad.add(p, alpha=weight_decay)
            if momentum:
                buf.mul_(momentum).add_(g)
                g = buf
            p.add_(g, alpha=-lr)


def _train_body(
    torch: Any,
    data: TaskData,
    hidden: Sequence[int],
    batch_size: int,
    lr: float,
    epochs: int,
    momentum: float,
    weight_decay: float,
    rng: np.random.Generator,
) -> tuple[list[Snapshot], str]:
    sizes = [data.x_train.shape[1], *hidden, data.n_out]
    net, linears = _build(torch, _init_layers(sizes, rng))
    tensors = {
        name: torch.from_numpy(np.ascontiguousarray(getattr(data, name)))
        for name in ("x_train", "y_train", "x_test", "y_test")
    }
    loss_fn = torch.nn.functional.cross_entropy if data.kind == "classification" else torch.nn.functional.mse_loss
    params = list(net.parameters())
    bufs = [torch.zeros_like(q) for q in params]
    snaps = [_snapshot(0, linears, _evaluate(torch, net, data, tensors))]
    n = data.x_train.shape[0]
    x, y = tensors["x_train"], tensors["y_train"]
    for epoch in range(1, epochs + 1):
        order = torch.from_numpy(rng.permutation(n))
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            loss = loss_fn(net(x[idx]), y[idx])
            if not math.isfinite(float(loss.detach())):
                return snaps, f"training diverged in epoch {epoch} (non-finite loss at lr = {lr:g})"
            net.zero_grad(set_to_none=False)
            loss.backward()
            _sgd_step(torch, params, bufs, lr, momentum, weight_decay)
        metrics = _evaluate(torch, net, data, tensors)
        if not all(math.isfinite(m) for m in metrics):
            return snaps, f"training diverged in epoch {epoch} (non-finite loss at lr = {lr:g})"
        snaps.append(_snapshot(epoch, linears, metrics))
    return snaps, ""
