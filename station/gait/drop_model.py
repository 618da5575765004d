"""Pelvic obliquity over the stride cycle: one low-order model pooling every sample of every stride.

Why a model and not each step's own samples. At keypoint noise of 0.5 % of body
height a 30 fps frame's obliquity has a noise SD of ~4.5 deg against a drop of
~2 deg, and one stance holds ~9 frames: a step's own maximum is mostly noise
(and biased upwards, a maximum of noisy samples). The per-side mean over a
session, which is what matters, has plenty of information if every sample is
used, flight phases included.

The model: obliquity theta as a Fourier series in stride phase phi (0..1; left
contact at 0, right contact at 0.5, linear in time between detected contacts),
``harmonics`` harmonics of the stride frequency (2 x harmonics / 2 of the step
frequency), fitted by least squares to all samples seen so far with exponential
forgetting (``memory_steps``), so it follows a runner who tires. On the Fukuchi
treadmill markers the first 8 stride harmonics hold 99.9 % of the obliquity's
cycle power (odd harmonics dominate: the waveform flips sign between the
sides), but the peak, a sharper feature, converges only at 12 (the analyzer's
default; docs/validation.md). Each harmonic is shrunk toward 0 by the Wiener factor
(power - noise) / power, the noise power coming from the fit's residual variance
and the coefficient covariance: on clean data nothing is shrunk; under noise the
weak high harmonics, which would only add noise to the peak, fade out.

Per step, ``drop_excursion_deg`` = d(peak) - d(contact) and the peak value are
linear functionals of the model at the model's peak within the stance (d = theta
in right stance, -theta in left). A step's value is the model's change from this
step's data, scaled to one step's share (``n f_now - lambda n_prev f_prev``,
with f the functional): so the plain mean of a side's per-step values is
exactly (without forgetting; up to the forgetting weights with it) the model's
value from all the data, the most precise estimate there is, and a trend (a
tiring runner) appears in the per-step values at once, not after a window. A
single step's value is as noisy as one step's samples make it.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["StrideDropModel"]

BASE = {"left": 0.0, "right": 0.5}  # stride phase of each side's initial contact
SIGN = {"left": -1.0, "right": 1.0}  # d = +theta in right stance, -theta in left stance


def fourier_basis(phase: np.ndarray, harmonics: int) -> np.ndarray:
    """(N, 2 K + 1) design matrix: 1, cos(2 pi k phi), sin(2 pi k phi) for k = 1..K."""
    phase = np.asarray(phase, dtype=np.float64)
    cols = [np.ones_like(phase)]
    for k in range(1, harmonics + 1):
        w = 2.0 * math.pi * k * phase
        cols += [np.cos(w), np.sin(w)]
    return np.stack(cols, axis=-1)


class StrideDropModel:
    """Streaming least-squares Fourier model of obliquity over the stride; see the module docstring."""

    def __init__(self, harmonics: int = 8, memory_steps: float = 300.0, min_steps_per_side: int = 3) -> None:
        self.harmonics = harmonics
        self.p = 2 * harmonics + 1
        self.lam = math.exp(-1.0 / memory_steps)  # forgetting per step
        self.min_steps_per_side = min_steps_per_side
        self._a = np.zeros((self.p, self.p))  # sum w x x'
        self._a2 = np.zeros((self.p, self.p))  # sum w^2 x x' (for the coefficient covariance)
        self._b = np.zeros(self.p)  # sum w x y
        self._yy = 0.0  # sum w y^2
        self._n = 0.0  # sum w
        self._steps = {"left": 0, "right": 0}
        self._side_n: dict[str, float] = {}
        self._side_coef: dict[str, np.ndarray] = {}

    def add(self, side: str, phase: np.ndarray, theta_deg: np.ndarray) -> None:
        """Add one step's owned samples (stride phase, image obliquity); every step call forgets a little."""
        lam = self.lam
        self._a *= lam
        self._a2 *= lam * lam
        self._b *= lam
        self._yy *= lam
        self._n *= lam
        self._steps[side] += 1
        if len(phase) == 0:
            return
        x = fourier_basis(phase, self.harmonics)
        y = np.asarray(theta_deg, dtype=np.float64)
        xtx = x.T @ x
        self._a += xtx
        self._a2 += xtx
        self._b += x.T @ y
        self._yy += float(y @ y)
        self._n += len(y)

    def coefficients(self) -> np.ndarray | None:
        """The shrunk model coefficients, or None while the model is not yet determined.

        The highest order up to ``harmonics`` that the samples determine is used (the
        higher harmonics of the stride lie above a low frame rate's Nyquist frequency and
        are only resolved because the stride is not a whole number of frames; a runner
        whose stride is, leaves them undetermined): the omitted ones are 0.
        """
        if min(self._steps.values()) < self.min_steps_per_side:
            return None
        for k_max in range(self.harmonics, 0, -1):
            p = 2 * k_max + 1
            if self._n < 3 * p:
                continue
            a = self._a[:p, :p]
            try:
                if not np.linalg.cond(a) < 1e8:
                    continue
                a_inv = np.linalg.inv(a)
            except np.linalg.LinAlgError:
                continue
            c = np.zeros(self.p)
            c[:p] = self._shrunk(a, a_inv, self._a2[:p, :p], self._b[:p], k_max)
            return c
        return None

    def _shrunk(self, a: np.ndarray, a_inv: np.ndarray, a2: np.ndarray, b: np.ndarray, k_max: int) -> np.ndarray:
        """Least-squares coefficients of order ``k_max``, each harmonic shrunk by its Wiener factor."""
        c = a_inv @ b
        rss = self._yy - 2.0 * float(c @ b) + float(c @ a @ c)
        s2 = max(rss, 0.0) / (self._n - len(c))  # residual variance (noise and step-to-step variation)
        cov = s2 * (a_inv @ a2 @ a_inv)
        for k in range(1, k_max + 1):
            i = slice(2 * k - 1, 2 * k + 1)
            noise = float(np.trace(cov[i, i]))
            power = self._observed_power(k, c[i], noise)
            c[i] *= max(0.0, 1.0 - noise / power) if power > 0.0 else 0.0
        return c

    def _observed_power(self, k: int, coef_k: np.ndarray, noise: float) -> float:
        """Harmonic ``k``'s power as observed (signal + noise), what its Wiener factor divides the noise by."""
        return float(coef_k @ coef_k)

    def step_values(self, side: str, stance_frac: float) -> tuple[float, float, float] | None:
        """(excursion_deg, peak d in image deg, peak time in step periods after contact) for a step of ``side``.

        ``stance_frac`` = stance time / step period, where the peak is searched. Call once
        per emitted step, after :meth:`add` of its samples.
        """
        c = self.coefficients()
        if c is None:
            return None
        exc, peak, u_peak = _read(c, side, stance_frac, self.harmonics)
        lam_side = self.lam * self.lam  # a side's steps come every other step
        if side in self._side_n:
            # each model read at its own maximum (a maximum is continuous in the coefficients, so this is
            # smooth; reading the old model at the new model's maximum would bias every value upwards)
            n_old = self._side_n[side]
            exc_old, peak_old, _ = _read(self._side_coef[side], side, stance_frac, self.harmonics)
            n_new = lam_side * n_old + 1.0
            exc = n_new * exc - lam_side * n_old * exc_old
            peak = n_new * peak - lam_side * n_old * peak_old
        else:
            n_new = 1.0
        self._side_n[side] = n_new
        self._side_coef[side] = c
        return exc, peak, u_peak


def _read(c: np.ndarray, side: str, stance_frac: float, harmonics: int) -> tuple[float, float, float]:
    """(d(peak) - d(contact), d(peak), peak time in step periods) of model ``c`` for a stance of ``side``."""
    sg, base = SIGN[side], BASE[side]
    u = np.linspace(0.0, max(min(stance_frac, 1.0), 0.05), 65)
    d = sg * (fourier_basis(base + 0.5 * u, harmonics) @ c)
    k = int(np.argmax(d))
    return float(d[k] - d[0]), float(d[k]), float(u[k])
