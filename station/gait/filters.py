"""Short-lag smoothing that copes with missing and unevenly timed samples.

The analyzer smooths with a local quadratic regression under a tricube kernel
(LOESS without the robustness step). It is centred, so a value at time t needs
samples up to t + h: a lag of h, never the whole signal. Its equivalent
low-pass -3 dB frequency is about 0.713 / h (computed from the continuous
equivalent kernel), which is how a cutoff in Hz becomes a half-width in seconds.
"""

from __future__ import annotations

import math

import numpy as np

# f_-3dB * h for local quadratic regression with tricube weights (continuous equivalent kernel)
TRICUBE_QUADRATIC_CUTOFF_TIMES_HALF_WIDTH = 0.713


def half_width_s(cutoff_hz: float, sample_interval_s: float, min_samples_each_side: float = 2.5) -> float:
    """Kernel half-width for a -3 dB cutoff, widened so at least a few samples fall on each side."""
    return max(TRICUBE_QUADRATIC_CUTOFF_TIMES_HALF_WIDTH / cutoff_hz, min_samples_each_side * sample_interval_s)


def local_quadratic(
    t_s: np.ndarray, values: np.ndarray, valid: np.ndarray, t0_s: float, h_s: float, min_points: int = 4
) -> np.ndarray:
    """Value at ``t0_s`` of a tricube-weighted quadratic fit to the valid samples within ``h_s``.

    ``values`` is (N,) or (N, K): K signals sharing the same sample times; ``valid`` the
    same shape as ``values`` (bool). Returns NaN for a signal with fewer than
    ``min_points`` valid samples in the window or without samples on both sides of t0
    (no extrapolation). Falls back to a linear fit when the quadratic is ill-posed.
    """
    vals = values if values.ndim == 2 else values[:, None]
    ok_all = valid if valid.ndim == 2 else valid[:, None]
    u = (t_s - t0_s) / h_s
    inside = np.abs(u) < 1.0
    out = np.full(vals.shape[1], np.nan)
    if not inside.any():
        return out if values.ndim == 2 else out[0]
    u_in = u[inside]
    w_in = (1.0 - np.abs(u_in) ** 3) ** 3
    x_in = np.stack([np.ones_like(u_in), u_in, u_in * u_in], axis=1)
    for k in range(vals.shape[1]):
        ok = ok_all[inside, k]
        n = int(ok.sum())
        if n < min_points:
            continue
        uk = u_in[ok]
        if uk.min() > 0.0 or uk.max() < 0.0:
            continue
        wk = w_in[ok]
        yk = vals[inside, k][ok]
        sw = np.sqrt(wk)
        for order in (3, 2):
            xk = x_in[ok][:, :order] * sw[:, None]
            coef, _, rank, _ = np.linalg.lstsq(xk, yk * sw, rcond=None)
            if rank == order:
                out[k] = coef[0]
                break
    return out if values.ndim == 2 else out[0]


def local_quadratic_var(t_s: np.ndarray, values: np.ndarray, t0_s: float, h_s: float) -> tuple[float, float]:
    """Like :func:`local_quadratic` for one fully valid signal, also returning the noise gain.

    Returns (value, gain): the fitted value is sum_j l_j y_j, and ``gain`` = sum_j l_j**2, so
    white noise of variance s2 on the samples gives the value a variance of s2 * gain.
    (NaN, NaN) when fewer than 4 samples fall within the kernel or t0 is not bracketed.
    """
    u = (t_s - t0_s) / h_s
    inside = np.abs(u) < 1.0
    if inside.sum() < 4:
        return math.nan, math.nan
    ui = u[inside]
    if ui.min() > 0.0 or ui.max() < 0.0:
        return math.nan, math.nan
    w = (1.0 - np.abs(ui) ** 3) ** 3
    x = np.stack([np.ones_like(ui), ui, ui * ui], axis=1)
    a = (x * w[:, None]).T @ x
    try:
        row = np.linalg.solve(a, np.array([1.0, 0.0, 0.0]))
    except np.linalg.LinAlgError:
        return math.nan, math.nan
    ell = w * (x @ row)  # equivalent kernel: value = ell @ y
    return float(ell @ values[inside]), float(ell @ ell)


def local_quadratic_grid(
    t_s: np.ndarray, values: np.ndarray, grid_s: np.ndarray, h_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`local_quadratic_var` at every point of ``grid_s`` at once (vectorised); NaN where undefined."""
    u = (t_s[None, :] - grid_s[:, None]) / h_s  # (G, N)
    inside = np.abs(u) < 1.0
    w = np.where(inside, (1.0 - np.minimum(np.abs(u), 1.0) ** 3) ** 3, 0.0)
    moments = np.stack([np.sum(w * u**p, axis=1) for p in range(5)], axis=1)  # (G, 5): sum w u^p
    a = np.stack([moments[:, i:i + 3] for i in range(3)], axis=1)  # (G, 3, 3) Hankel
    ok = (inside.sum(axis=1) >= 4) & (np.where(inside, u, np.inf).min(axis=1) <= 0.0) & (
        np.where(inside, u, -np.inf).max(axis=1) >= 0.0)
    det = np.linalg.det(a)
    ok &= np.abs(det) > 1e-12 * np.maximum(moments[:, 0], 1e-300) ** 3
    rows = np.zeros((len(grid_s), 3))
    if ok.any():
        rows[ok] = np.linalg.solve(a[ok], np.tile(np.array([1.0, 0.0, 0.0]), (int(ok.sum()), 1))[..., None])[..., 0]
    ell = w * (rows[:, 0:1] + rows[:, 1:2] * u + rows[:, 2:3] * u * u)  # (G, N) equivalent kernels
    value = np.where(ok, ell @ values, np.nan)
    gain = np.where(ok, np.sum(ell * ell, axis=1), np.nan)
    return value, gain
