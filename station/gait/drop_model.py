"""Pelvic obliquity over the stride cycle: one low-order model pooling every sample of every stride.

Why a model and not each step's own samples. At keypoint noise of 0.5 % of body
height a 30 fps frame's obliquity has a noise SD of ~4.5 deg against a drop of
~2 deg, and one stance holds ~9 frames: a step's own maximum is mostly noise
(and biased upwards, a maximum of noisy samples). The per-side mean over a
session, which is what matters, has plenty of information if every sample is
used, flight phases included.

The model: obliquity theta as a Fourier series in stride phase phi (0..1; left
contact at 0, right contact at 0.5, linear in time between detected contacts),
up to ``harmonics`` harmonics of the stride frequency, fitted by least squares
to all samples seen so far with exponential forgetting (``memory_steps``), so it
follows a runner who tires. On the Fukuchi treadmill markers the first 8 stride
harmonics hold 99.9 % of the obliquity's cycle power (odd harmonics dominate:
the waveform flips sign between the sides), but the peak, a sharper feature,
converges only at 12 (the analyzer's default; docs/validation.md). The order used
is the highest the samples determine: ten samples per coefficient and no gap in
the stride phase longer than the harmonic's node spacing, so a model forms as
soon as one stride has been seen and grows with the data. Optionally
(``shrinkage`` > 0) each harmonic is shrunk toward 0 by a Wiener factor
(1 - shrinkage x noise / power); the analyzer leaves it off (plain least squares:
the Wiener factor flattens sharp drops; docs/validation.md).

Per step, ``drop_excursion_deg`` = d(peak) - d(contact) and the peak value are
linear functionals of the model at the model's peak within the stance (d = theta
in right stance, -theta in left). A step's value is the model's change from this
step's data, scaled to one step's share (``n f_now - lambda n_prev f_prev``,
with f the functional): so the plain mean of a side's per-step values is
exactly (without forgetting; up to the forgetting weights with it) the model's
value from all the data, the most precise estimate there is, and a trend (a
tiring runner) appears in the per-step values at once, not after a window. A
single step's value is as noisy as one step's samples make it.

Uncertainty. Each read also gives the 95 % confidence interval of the side's
mean, from the data alone: least squares is linear in the samples, so the
coefficients' covariance is estimated clustered by step (a sandwich over the
recent steps' contributions: keypoint noise, step-to-step variation and noise
shared between neighbouring frames) and never below the residuals' white-noise
covariance; excursion and peak are linear in the coefficients at the maximum
found (the delta method; near the stance window's edge, the upper reach of the
curve, so a drop read at contact is never a false 0 +- 0). Student's t with
(steps - 1) degrees of freedom. It shrinks as 1/sqrt(steps).

Short passes. Before the stride model has seen a whole stride (the first steps
of a session or of a track-side pass), :meth:`StrideDropModel.local_values`
reads a step's drop from its own samples, a low-order polynomial over its
stance, with the interval its residuals give.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from typing import NamedTuple

import numpy as np
from scipy.special import stdtrit  # the inverse of Student's t distribution; imported here, not mid-session

__all__ = ["DropValues", "StrideDropModel", "t_quantile_975"]

BASE = {"left": 0.0, "right": 0.5}  # stride phase of each side's initial contact
SIGN = {"left": -1.0, "right": 1.0}  # d = +theta in right stance, -theta in left stance
PHASE_BINS = 96  # stride-phase coverage histogram (decides which orders the samples determine)
SAMPLES_PER_COEF = 10  # least samples per model coefficient for an order to be used
# the least order worth reading: a stance is a third of the stride and its drop peaks a tenth of a stride after
# contact, a shape the first three harmonics cannot hold (a 6-step pass at 30 fps stays on its steps' own values)
MIN_ORDER = 4
RECENT_STEPS = 150  # the steps the interval's clustered covariance is taken over (older ones weigh little)


@functools.lru_cache(maxsize=512)
def t_quantile_975(dof: int) -> float:
    """The 97.5 % quantile of Student's t with ``dof`` degrees of freedom (a 95 % two-sided interval)."""
    return float(stdtrit(dof, 0.975)) if dof >= 1 else math.inf


class DropValues(NamedTuple):
    """One step's drop values and the 95 % intervals of its side's mean (half-widths, deg; None if unknown)."""

    excursion_deg: float
    peak_image_deg: float  # d at its maximum, against the image horizontal (add the camera roll for the true one)
    u_peak: float  # peak time in step periods after contact
    excursion_ci95_deg: float | None
    peak_ci95_deg: float | None
    local: bool = False  # from this step's own samples (no stride model yet)


def fourier_basis(phase: np.ndarray, harmonics: int) -> np.ndarray:
    """(N, 2 K + 1) design matrix: 1, cos(2 pi k phi), sin(2 pi k phi) for k = 1..K."""
    phase = np.asarray(phase, dtype=np.float64)
    cols = [np.ones_like(phase)]
    for k in range(1, harmonics + 1):
        w = 2.0 * math.pi * k * phase
        cols += [np.cos(w), np.sin(w)]
    return np.stack(cols, axis=-1)


class _StepData(NamedTuple):
    index: int  # the model's step counter when it was added (its forgetting weight is lam ** age)
    xtx: np.ndarray
    xty: np.ndarray
    yy: float
    n: int


class _Estimate(NamedTuple):
    order: int
    coef: np.ndarray  # (2 harmonics + 1,), the orders above ``order`` 0
    reads: np.ndarray  # excursion, peak of the left side, then of the right side (deg)
    se: np.ndarray  # their standard errors


class StrideDropModel:
    """Streaming least-squares Fourier model of obliquity over the stride; see the module docstring.

    ``shrinkage`` scales the noise in each harmonic's Wiener factor (1 - shrinkage x noise / power): 1 (the
    default here) is the Wiener filter, 0 plain least squares, which the analyzer uses
    (``AnalyzerSettings.drop_shrinkage``; plain least squares reads the maximum of a noisy curve a little
    high, +0.2 deg at 0.3 % keypoint noise on s01, where the Wiener filter flattens sharp drops by 0.4-0.8;
    docs/validation.md).
    """

    def __init__(self, harmonics: int = 8, memory_steps: float = 300.0, min_steps_per_side: int = 3,
                 shrinkage: float = 1.0) -> None:
        self.harmonics = harmonics
        self.p = 2 * harmonics + 1
        self.lam = math.exp(-1.0 / memory_steps)  # forgetting per step
        self.min_steps_per_side = min_steps_per_side
        self.shrinkage = shrinkage
        self._a = np.zeros((self.p, self.p))  # sum w x x'
        self._a2 = np.zeros((self.p, self.p))  # sum w^2 x x' (for the coefficient covariance)
        self._b = np.zeros(self.p)  # sum w x y
        self._yy = 0.0  # sum w y^2
        self._n = 0.0  # sum w
        self._bins = np.zeros(PHASE_BINS)  # forgetting-weighted sample count per stride-phase bin
        self._count = 0  # steps added
        self._recent: deque[_StepData] = deque(maxlen=RECENT_STEPS)
        self._steps = {"left": 0, "right": 0}
        self._side_n: dict[str, float] = {}
        self._side_coef: dict[str, np.ndarray] = {}
        self._local: dict[str, list[tuple[float, float, float, float]]] = {"left": [], "right": []}
        self._stance_frac = 0.7  # stance / step period, where the peak is searched (the last one asked for)

    def add(self, side: str, phase: np.ndarray, theta_deg: np.ndarray) -> None:
        """Add one step's owned samples (stride phase, image obliquity); every step call forgets a little."""
        lam = self.lam
        self._a *= lam
        self._a2 *= lam * lam
        self._b *= lam
        self._yy *= lam
        self._n *= lam
        self._bins *= lam
        self._steps[side] += 1
        self._count += 1
        if len(phase) == 0:
            return
        x = fourier_basis(phase, self.harmonics)
        y = np.asarray(theta_deg, dtype=np.float64)
        xtx = x.T @ x
        xty = x.T @ y
        self._a += xtx
        self._a2 += xtx
        self._b += xty
        self._yy += float(y @ y)
        self._n += len(y)
        np.add.at(self._bins, (np.asarray(phase) % 1.0 * PHASE_BINS).astype(int) % PHASE_BINS, 1.0)
        self._recent.append(_StepData(self._count, xtx, xty, float(y @ y), len(y)))

    # ---------------------------------------------------------------- the fit
    def _order(self) -> int | None:
        """The highest order the samples determine, or None while the model is not yet determined.

        Enough samples per coefficient, every side seen ``min_steps_per_side`` times, no gap in the
        stride phase longer than 1 / (2 k + 1) of the cycle, and a well-conditioned normal matrix (the
        higher harmonics of the stride lie above a low frame rate's Nyquist frequency and are only
        resolved because the stride is not a whole number of frames; a runner whose stride is, leaves
        them undetermined).
        """
        if min(self._steps.values()) < self.min_steps_per_side:
            return None
        gap = _longest_gap(self._bins >= 0.5) / PHASE_BINS
        for k_max in range(self.harmonics, min(MIN_ORDER, self.harmonics) - 1, -1):
            p = 2 * k_max + 1
            if self._n < SAMPLES_PER_COEF * p or gap >= 1.0 / (2 * k_max + 1):
                continue
            try:
                if np.linalg.cond(self._a[:p, :p]) < 1e8:
                    return k_max
            except np.linalg.LinAlgError:
                continue
        return None

    def coefficients(self) -> np.ndarray | None:
        """The model coefficients (the omitted orders 0), or None while the model is not yet determined."""
        est = self._estimate()
        return None if est is None else est.coef

    def _estimate(self) -> _Estimate | None:
        """The model at the highest order the samples determine (:meth:`_order`), and its readings' SEs."""
        k_top = self._order()
        if k_top is None:
            return None
        est = self._fit_order(k_top, self._stance_frac)
        if est is None or k_top == self.harmonics or k_top < 2:
            return est
        # cut short by the data (a short pass, the first strides): the part cut off is about the size of the
        # last harmonic's contribution, a bias the noise alone does not show; it widens the interval
        lower = self._fit_order(k_top - 1, self._stance_frac)
        if lower is None:
            return est
        q = t_quantile_975(max(len(self._recent) - 1, 1))
        se = np.sqrt(est.se ** 2 + ((est.reads - lower.reads) / q) ** 2)
        return est._replace(se=se)

    def _fit_order(self, k: int, stance_frac: float) -> _Estimate | None:
        """Least squares of order ``k`` (each harmonic shrunk by ``shrinkage``), its readings and their SEs.

        The readings' standard errors come from the coefficients' covariance, estimated robustly to
        everything a white-noise model misses (step-to-step variation, noise shared by neighbouring
        samples): clustered by step (a sandwich over the recent steps' score contributions), never below
        the residuals' own white-noise covariance. Excursion and peak are linear in the coefficients at
        the maximum found (delta method); the gradient is the unshrunk reading's (with shrinkage, its
        bias is of that order).
        """
        p = 2 * k + 1
        a = self._a[:p, :p]
        try:
            a_inv = np.linalg.inv(a)
        except np.linalg.LinAlgError:
            return None
        c_ls = a_inv @ self._b[:p]
        coef = np.zeros(self.p)
        coef[:p] = c_ls * self._factors(a, a_inv, c_ls, k)
        cov = self._white_cov(a, a_inv, c_ls)
        g = len(self._recent)
        cov_cluster = None
        if g >= 3:
            w = np.array([self.lam ** (self._count - s.index) for s in self._recent])
            scores = w[:, None] * (np.stack([s.xty[:p] for s in self._recent])
                                   - np.einsum("gij,j->gi", np.stack([s.xtx[:p, :p] for s in self._recent]), c_ls))
            cov_cluster = a_inv @ (scores.T @ scores * (g / (g - 1.0))) @ a_inv
        reads, se = np.zeros(4), np.zeros(4)
        for j, side in enumerate(("left", "right")):
            u = _grid(stance_frac)
            rows = fourier_basis(BASE[side] + 0.5 * u, k) * SIGN[side]  # (U, p): d(u) = rows @ c, its gradient
            d = rows @ coef[:p]
            for m, grads, values in ((0, rows - rows[0], d - d[0]), (1, rows, d)):
                var = np.einsum("ui,ij,uj->u", grads, cov, grads)
                if cov_cluster is not None:
                    var = np.maximum(var, np.einsum("ui,ij,uj->u", grads, cov_cluster, grads))
                reads[2 * j + m] = float(np.max(values))
                se[2 * j + m] = _max_se(values, np.sqrt(np.maximum(var, 0.0)))
        return _Estimate(k, coef, reads, se)

    def _observed_power(self, k: int, coef_k: np.ndarray, noise: float) -> float:
        """Harmonic ``k``'s power as observed (signal + noise), what its Wiener factor divides the noise by."""
        return float(coef_k @ coef_k)

    def _white_cov(self, a: np.ndarray, a_inv: np.ndarray, c: np.ndarray) -> np.ndarray:
        """The coefficients' covariance if the residuals were white (with the forgetting weights)."""
        p = len(c)
        b = self._b[:p]
        rss = self._yy - 2.0 * float(c @ b) + float(c @ a @ c)
        s2 = max(rss, 0.0) / max(self._n - p, 1.0)
        return s2 * (a_inv @ self._a2[:p, :p] @ a_inv)

    def _factors(self, a: np.ndarray, a_inv: np.ndarray, c: np.ndarray, k_max: int) -> np.ndarray:
        """Each coefficient's shrinkage factor (the same for a harmonic's cosine and sine; 1 for the mean)."""
        cov = self._white_cov(a, a_inv, c)
        f = np.ones(len(c))
        for k in range(1, k_max + 1):
            i = slice(2 * k - 1, 2 * k + 1)
            noise = float(np.trace(cov[i, i]))
            power = self._observed_power(k, c[i], noise)
            f[i] = max(0.0, 1.0 - self.shrinkage * noise / power) if power > 0.0 else 0.0
        return f

    # ---------------------------------------------------------------- per-step values
    def step_values(self, side: str, stance_frac: float) -> DropValues | None:
        """The drop values of a step of ``side`` and the 95 % intervals of the side's mean; None before the model.

        ``stance_frac`` = stance time / step period, where the peak is searched. Call once
        per emitted step, after :meth:`add` of its samples.
        """
        self._stance_frac = stance_frac
        est = self._estimate() if len(self._recent) >= 3 else None  # an interval needs a few steps' scatter
        if est is None:
            return None
        c = est.coef
        exc, peak, u_peak = _read(c, side, stance_frac, self.harmonics)
        lam_side = self.lam * self.lam  # a side's steps come every other step
        locals_ = self._local[side]
        if side in self._side_n:
            # each model read at its own maximum (a maximum is continuous in the coefficients, so this is
            # smooth; reading the old model at the new model's maximum would bias every value upwards)
            n_old = self._side_n[side]
            exc_old, peak_old, _ = _read(self._side_coef[side], side, stance_frac, self.harmonics)
        elif locals_:
            # the side's first model read takes over from its local values: their mean is what it replaces
            n_old = float(len(locals_))
            exc_old = float(np.mean([v[0] for v in locals_]))
            peak_old = float(np.mean([v[1] for v in locals_]))
        else:
            n_old, exc_old, peak_old = 0.0, 0.0, 0.0
        n_new = lam_side * n_old + 1.0
        share_exc = n_new * exc - lam_side * n_old * exc_old
        share_peak = n_new * peak - lam_side * n_old * peak_old
        self._side_n[side] = n_new
        self._side_coef[side] = c
        q = t_quantile_975(len(self._recent) - 1)
        j = 0 if side == "left" else 2
        return DropValues(share_exc, share_peak, u_peak, q * float(est.se[j]), q * float(est.se[j + 1]))

    def local_values(self, side: str, tau_s: np.ndarray, theta_deg: np.ndarray, stance_s: float,
                     period_s: float) -> DropValues | None:
        """A step's drop from its own samples alone, for the steps before the stride model forms.

        ``tau_s`` is the time since this step's contact (samples from a little before contact to the
        end of stance). A polynomial (cubic, quadratic with fewer samples) in tau; excursion and peak
        read on it as on the model, their intervals from its residuals (delta method, Student's t),
        pooled over the side's local steps so far (the interval of their mean). None with fewer than
        five samples or without samples on both sides of the stance's middle.
        """
        tau = np.asarray(tau_s, dtype=np.float64)
        y = SIGN[side] * np.asarray(theta_deg, dtype=np.float64)
        ok = np.isfinite(y) & (tau <= stance_s)
        tau, y = tau[ok], y[ok]
        n = len(y)
        if n < 5 or stance_s <= 0 or not (tau.min() <= 0.25 * stance_s and tau.max() >= 0.75 * stance_s):
            return None
        order = 3 if n >= 7 else 2
        x = np.vander(tau / stance_s, order + 1, increasing=True)
        xtx_inv = np.linalg.pinv(x.T @ x)
        coef = xtx_inv @ x.T @ y
        dof = n - order - 1
        s2 = float(np.sum((y - x @ coef) ** 2)) / dof
        grid = np.vander(np.linspace(0.0, 1.0, 65), order + 1, increasing=True)
        d = grid @ coef
        k = int(np.argmax(d))
        exc, peak = float(d[k] - d[0]), float(d[k])
        se_exc = np.sqrt(s2 * np.einsum("ui,ij,uj->u", grid - grid[0], xtx_inv, grid - grid[0]))
        se_peak = np.sqrt(s2 * np.einsum("ui,ij,uj->u", grid, xtx_inv, grid))
        var_exc = _max_se(d - d[0], se_exc) ** 2
        var_peak = _max_se(d, se_peak) ** 2
        self._local[side].append((exc, peak, var_exc, var_peak))
        vals = self._local[side]
        m = len(vals)
        q = t_quantile_975(dof)
        exc_ci = q * math.sqrt(sum(v[2] for v in vals)) / m
        peak_ci = q * math.sqrt(sum(v[3] for v in vals)) / m
        return DropValues(exc, peak, float(k / 64 * stance_s / period_s), exc_ci, peak_ci, local=True)


def _max_se(values: np.ndarray, se: np.ndarray, z: float = 1.96) -> float:
    """The standard error of the maximum of a curve read on a grid, with its SE at every point.

    At an interior maximum this is the SE there (the delta method: a maximum moves with the curve
    to first order). At the window's edge the delta method says nothing about the maximum that
    noise may have hidden inside it: there the upper reach max(values + z se) - max(values), in
    units of z, if larger. So an excursion read at contact (the curve falls from contact) carries
    the uncertainty of the curve after it, not a false zero.
    """
    k = int(np.argmax(values))
    if 0 < k < len(values) - 1:
        return float(se[k])
    return max(float(se[k]), float(np.max(values + z * se) - values[k]) / z)


def _longest_gap(occupied: np.ndarray) -> int:
    """The longest circular run of unoccupied bins."""
    if occupied.all():
        return 0
    if not occupied.any():
        return len(occupied)
    k = int(np.argmax(occupied))  # start the scan on an occupied bin so a run never wraps
    run = best = 0
    for v in np.roll(occupied, -k):
        run = 0 if v else run + 1
        best = max(best, run)
    return best


def _read_many(cs: np.ndarray, side: str, stance_frac: float, harmonics: int) -> np.ndarray:
    """(excursion, peak) of each row of ``cs`` (G, P), each read at its own maximum, as :func:`_read`."""
    sg, base = SIGN[side], BASE[side]
    u = np.linspace(0.0, max(min(stance_frac, 1.0), 0.05), 65)
    d = sg * (fourier_basis(base + 0.5 * u, harmonics) @ cs.T)  # (65, G)
    k = np.argmax(d, axis=0)
    peak = d[k, np.arange(d.shape[1])]
    return np.stack([peak - d[0], peak], axis=1)


def _grid(stance_frac: float) -> np.ndarray:
    """The stance where a peak is searched: 65 points from contact, u in step periods after contact."""
    return np.linspace(0.0, max(min(stance_frac, 1.0), 0.05), 65)


def _curve(c: np.ndarray, side: str, stance_frac: float, harmonics: int) -> tuple[np.ndarray, np.ndarray]:
    """(u, d(u)) of model ``c`` over a stance of ``side`` (:func:`_grid`)."""
    u = _grid(stance_frac)
    return u, SIGN[side] * (fourier_basis(BASE[side] + 0.5 * u, harmonics) @ c)


def _read(c: np.ndarray, side: str, stance_frac: float, harmonics: int) -> tuple[float, float, float]:
    """(d(peak) - d(contact), d(peak), peak time in step periods) of model ``c`` for a stance of ``side``."""
    u, d = _curve(c, side, stance_frac, harmonics)
    k = int(np.argmax(d))
    return float(d[k] - d[0]), float(d[k]), float(u[k])
