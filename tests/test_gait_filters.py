"""The short-lag local quadratic smoother."""

from __future__ import annotations

import numpy as np
import pytest

from station.gait.filters import half_width_s, local_quadratic, local_quadratic_grid, local_quadratic_var


def test_reproduces_a_quadratic_exactly_and_skips_gaps() -> None:
    t = np.arange(0.0, 1.0, 1 / 30)
    y = 2.0 + 3.0 * t - 4.0 * t**2
    valid = np.ones_like(t, dtype=bool)
    valid[10:13] = False  # a dropout under the kernel
    assert local_quadratic(t, y, valid, 0.37, 0.15) == pytest.approx(2.0 + 3.0 * 0.37 - 4.0 * 0.37**2)
    assert np.isnan(local_quadratic(t, y, valid, 1.5, 0.1)), "no extrapolation past the data"
    both = local_quadratic(t, np.stack([y, -y], 1), np.stack([valid, valid], 1), 0.5, 0.1)
    assert both == pytest.approx([2.5, -2.5])


def test_cutoff_of_the_half_width() -> None:
    h = half_width_s(8.0, 1 / 240)
    t = np.arange(-1.0, 1.0, 1 / 240)
    valid = np.ones_like(t, dtype=bool)
    gain = [abs(local_quadratic(t, np.cos(2 * np.pi * f * t), valid, 0.0, h)) for f in (2.0, 8.0, 20.0)]
    assert gain[0] > 0.95 and gain[1] == pytest.approx(2**-0.5, abs=0.05) and gain[2] < 0.3
    assert half_width_s(50.0, 1 / 30) == pytest.approx(2.5 / 30), "never fewer than 2.5 samples a side"


def test_grid_version_matches_the_scalar_one() -> None:
    rng = np.random.default_rng(0)
    u = rng.uniform(-0.3, 1.0, 200)
    y = np.sin(3 * u) + rng.normal(0, 0.1, 200)
    grid = np.linspace(-0.3, 1.0, 53)
    values, gains = local_quadratic_grid(u, y, grid, 0.2)
    ref = np.array([local_quadratic_var(u, y, g, 0.2) for g in grid])
    np.testing.assert_allclose(values, ref[:, 0], atol=1e-12)
    np.testing.assert_allclose(gains, ref[:, 1], atol=1e-12)
    assert np.all(gains[np.isfinite(gains)] < 1.0)  # smoothing lowers white-noise variance
