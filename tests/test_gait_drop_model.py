"""The stride drop model on its own: exact on a known waveform, unbiased under noise, and robust to a
stride that is a whole number of frames (harmonics above the frame Nyquist undetermined)."""

from __future__ import annotations

import numpy as np

from station.gait.drop_model import StrideDropModel, fourier_basis


def _waveform(phase: np.ndarray) -> np.ndarray:
    """An obliquity cycle in degrees with odd and even stride harmonics (left/right asymmetry)."""
    w = 2.0 * np.pi * phase
    return -1.0 + 1.9 * np.sin(w) + 0.4 * np.cos(2 * w) + 1.2 * np.sin(3 * w + 0.5) + 0.3 * np.sin(5 * w)


def _feed(model: StrideDropModel, frames_per_stride: float, strides: int, noise_deg: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(frames_per_stride * strides)) / frames_per_stride  # time in strides
    for k in range(2 * strides):
        side = "left" if k % 2 == 0 else "right"
        sel = (t >= k / 2) & (t < (k + 1) / 2)
        phase = t[sel] % 1.0
        model.add(side, phase, _waveform(phase) + rng.normal(0.0, noise_deg, sel.sum()))


def _truth(side: str, stance_frac: float) -> float:
    u = np.linspace(0.0, stance_frac, 2001)
    base, sign = (0.0, -1.0) if side == "left" else (0.5, 1.0)
    d = sign * _waveform(base + 0.5 * u)
    return float(d.max() - d[0])


def test_exact_on_a_clean_waveform() -> None:
    model = StrideDropModel(harmonics=12)
    _feed(model, 21.37, 20, 0.0, 0)
    c = model.coefficients()
    assert c is not None
    for side in ("left", "right"):
        u = np.linspace(0.0, 0.7, 65)
        exc = model.step_values(side, 0.7)
        assert exc is not None
        assert abs(exc[0] - _truth(side, 0.7)) < 0.02
        base, sign = (0.0, -1.0) if side == "left" else (0.5, 1.0)
        np.testing.assert_allclose(sign * fourier_basis(base + 0.5 * u, 12) @ c,
                                   sign * _waveform(base + 0.5 * u), atol=1e-6)


def test_stride_of_whole_frames_falls_back_to_the_determined_order() -> None:
    # 21 frames per stride: harmonics 11 and 12 alias onto 10 and 9, so the full order is singular
    model = StrideDropModel(harmonics=12)
    _feed(model, 21.0, 20, 0.0, 0)
    c = model.coefficients()
    assert c is not None
    assert np.all(c[2 * 10 + 1:] == 0.0)  # the undetermined harmonics are left out
    exc = model.step_values("right", 0.7)
    assert exc is not None and abs(exc[0] - _truth("right", 0.7)) < 0.02


def test_side_means_are_close_to_unbiased_under_noise() -> None:
    # 4 deg of frame noise against a ~2 deg drop, 40 strides of 21.4 frames: the per-side mean of the
    # per-step values scatters by ~0.5 deg; over 30 seeds its mean must be within ~3 SE of the truth
    errs = {"left": [], "right": []}
    for seed in range(30):
        model = StrideDropModel(harmonics=12)
        rng = np.random.default_rng(seed)
        t = np.arange(int(21.4 * 40)) / 21.4
        vals: dict[str, list[float]] = {"left": [], "right": []}
        for k in range(80):
            side = "left" if k % 2 == 0 else "right"
            sel = (t >= k / 2) & (t < (k + 1) / 2)
            phase = t[sel] % 1.0
            model.add(side, phase, _waveform(phase) + rng.normal(0.0, 4.0, sel.sum()))
            v = model.step_values(side, 0.7)
            if v is not None:
                vals[side].append(v[0])
        for side in errs:
            errs[side].append(float(np.mean(vals[side])) - _truth(side, 0.7))
    for side, e in errs.items():
        e = np.asarray(e)
        assert abs(e.mean()) < 3.0 * e.std(ddof=1) / np.sqrt(len(e)) + 0.1, (side, e.mean(), e.std())
        assert e.std(ddof=1) < 1.0
