"""Chambers-Mallows-Stuck sampler of alpha-stable laws in Nolan's S1 parameterisation (private).

S1 is the parameterisation ``scipy.stats.levy_stable`` uses by default: the characteristic function of the
standard law (scale 1, location 0) is

.. math::

    \\varphi(t) = \\exp\\left(-|t|^\\alpha \\left[1 - i \\beta\\, \\mathrm{sign}(t)\\, \\Phi\\right]\\right),
    \\qquad \\Phi = \\tan(\\pi\\alpha/2)\\ (\\alpha \\ne 1), \\quad
    \\Phi = -\\tfrac{2}{\\pi}\\log|t|\\ (\\alpha = 1),

and a general variable is ``scale * Z + loc`` for ``alpha != 1`` and
``scale * Z + loc + (2 / pi) * beta * scale * log(scale)`` for ``alpha = 1`` (Nolan 2020, Definition 1.8;
scipy applies the same shift in ``levy_stable.rvs``/``cdf``).

With ``Theta ~ U(-pi/2, pi/2)`` and ``W ~ Exp(1)`` independent (Chambers, Mallows & Stuck 1976; Weron 1996):

- ``alpha != 1``: ``B = arctan(beta tan(pi alpha / 2)) / alpha``,
  ``S = (1 + beta^2 tan^2(pi alpha / 2))^(1 / (2 alpha))`` and
  ``Z = S sin(alpha (Theta + B)) / cos(Theta)^(1/alpha) * (cos(Theta - alpha (Theta + B)) / W)^((1-alpha)/alpha)``;
- ``alpha = 1``: ``Z = (2/pi) [(pi/2 + beta Theta) tan Theta - beta log((pi/2) W cos Theta / (pi/2 + beta Theta))]``.

The magnitude factor is evaluated in log space so that ``cos(Theta)^(1/alpha)`` cannot underflow for small
``alpha``; draws whose magnitude overflows float64 come out as ``inf`` and are clipped by the caller.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["standard_stable_s1"]


def standard_stable_s1(alpha: float, beta: float, shape: tuple[int, ...], gen: np.random.Generator) -> np.ndarray:
    """Standard S1 stable draws (scale 1, location 0) as float64, computed in place to limit memory."""
    theta = gen.uniform(-0.5 * math.pi, 0.5 * math.pi, size=shape)
    w = gen.standard_exponential(size=shape)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if alpha == 1.0:
            return _alpha_one(beta, theta, w)
        return _alpha_not_one(alpha, beta, theta, w)


def _alpha_one(beta: float, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
    half_pi = 0.5 * math.pi
    h = beta * theta
    h += half_pi  # pi/2 + beta Theta  (> 0 except on a null set)
    cos_t = np.cos(theta)
    out = np.tan(theta, out=theta)
    out *= h
    if beta != 0.0:
        # log((pi/2) W cos(Theta) / h)
        w *= cos_t
        w *= half_pi
        w /= h
        np.log(w, out=w)
        w *= beta
        out -= w
    out *= 2.0 / math.pi
    return out


def _alpha_not_one(alpha: float, beta: float, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
    if beta == 0.0:
        b_shift, log_s = 0.0, 0.0
    else:
        bt = beta * math.tan(0.5 * math.pi * alpha)
        b_shift = math.atan(bt) / alpha
        log_s = math.log1p(bt * bt) / (2.0 * alpha)
    inv_a = 1.0 / alpha
    expo = (1.0 - alpha) / alpha
    a_th = theta + b_shift
    a_th *= alpha  # alpha (Theta + B)
    # log-magnitude: log S - log(cos Theta)/alpha + ((1-alpha)/alpha) (log cos(Theta - a_th) - log W)
    np.log(w, out=w)
    inner = np.subtract(theta, a_th)
    np.cos(inner, out=inner)
    np.log(inner, out=inner)
    inner -= w
    inner *= expo
    np.cos(theta, out=theta)
    np.log(theta, out=theta)
    theta *= inv_a
    inner -= theta
    if log_s != 0.0:
        inner += log_s
    np.exp(inner, out=inner)
    np.sin(a_th, out=a_th)
    a_th *= inner
    return a_th
