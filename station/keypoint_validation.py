"""A pose model's keypoints, frame by frame, against the true joints of a rendered runner.

``gait-twin render --keypoints TRUE.csv`` writes the posed skeleton's joints projected into every
frame (a pose track CSV on the video's clock). Against it, for each hip, knee and ankle: the error in
pixels and as a share of the true hip width, and the pelvic obliquity error (the model's hip line
against the true one): its bias, its SD, and the share of its variance locked to the stride. The
stride-locked part is what the drop estimate cannot tell from real pelvic drop; the rest averages
out over steps.

Stride phase comes from the truth's right-foot contacts (0 at a contact, 1 at the next); the locked
share is the variance explained by the first ``HARMONICS`` harmonics of that phase (least squares).
Pure numpy: arrays and the truth's contact times in, a frozen dataclass out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from station.keypoints import BodyPart

HARMONICS = 6  # stride harmonics fitted (the step frequency is the 2nd)
MIN_SCORE = 0.3  # a model keypoint below this counts as not seen
JOINTS = ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


@dataclass(frozen=True)
class JointError:
    frames: int  # frames where the model saw it
    median_px: float | None
    p90_px: float | None
    bias_x_px: float | None  # mean of model - truth (image x, right +)
    bias_y_px: float | None  # (image y, down +)
    median_hip_width: float | None  # median error / true hip width


@dataclass(frozen=True)
class KeypointReport:
    frames: int
    matched_frames: int
    hip_width_px: float | None  # median true hip width
    joints: dict[str, JointError] = field(default_factory=dict)
    obliquity_frames: int = 0
    obliquity_bias_deg: float | None = None  # mean of model - truth
    obliquity_sd_deg: float | None = None
    obliquity_stride_locked_share: float | None = None  # share of the error's variance at stride harmonics
    obliquity_stride_locked_deg: float | None = None  # RMS of the stride-locked part

    def to_dict(self) -> dict:
        return asdict(self)


def image_obliquity_deg(left: np.ndarray, right: np.ndarray, view: str = "posterior") -> np.ndarray:
    """The hip line against the image horizontal, + when the right hip is higher (y down), either view."""
    s = 1.0 if view == "posterior" else -1.0
    return np.degrees(np.arctan2(-(right[..., 1] - left[..., 1]), s * (right[..., 0] - left[..., 0])))


def stride_phase(t_s: np.ndarray, contacts_s: np.ndarray) -> np.ndarray:
    """0..1 from one contact of a foot to its next; NaN outside the contacts."""
    c = np.sort(np.asarray(contacts_s, dtype=float))
    phase = np.full(len(t_s), np.nan)
    if len(c) < 2:
        return phase
    k = np.searchsorted(c, t_s, side="right") - 1
    inside = (k >= 0) & (k < len(c) - 1)
    phase[inside] = (t_s[inside] - c[k[inside]]) / (c[k[inside] + 1] - c[k[inside]])
    return phase


def stride_locked_share(err: np.ndarray, phase: np.ndarray, harmonics: int = HARMONICS) -> tuple[float, float]:
    """Share of the (mean-removed) variance of ``err`` explained by stride harmonics, and that part's RMS."""
    e = err - err.mean()
    cols = [np.ones_like(phase)]
    for k in range(1, harmonics + 1):
        cols += [np.cos(2 * np.pi * k * phase), np.sin(2 * np.pi * k * phase)]
    a = np.stack(cols, axis=1)
    coef, *_ = np.linalg.lstsq(a, e, rcond=None)
    fit = a @ coef
    fit -= fit.mean()
    total = float(np.sum(e**2))
    return (float(np.sum(fit**2) / total) if total > 0 else 0.0), float(np.sqrt(np.mean(fit**2)))


def _stat(v: np.ndarray, f) -> float | None:  # type: ignore[no-untyped-def]
    return float(f(v)) if len(v) else None


def keypoint_report(t_model: np.ndarray, xy_model: np.ndarray, score_model: np.ndarray, t_true: np.ndarray,
                    xy_true: np.ndarray, score_true: np.ndarray, right_contacts_s: np.ndarray,
                    view: str = "posterior", min_score: float = MIN_SCORE) -> KeypointReport:
    """Compare a model's track (T x 17 x 2, T x 17) with the true track, frames matched by time."""
    if len(t_true) < 2 or len(t_model) == 0:
        return KeypointReport(frames=len(t_model), matched_frames=0, hip_width_px=None)
    tol = 0.25 * float(np.median(np.diff(t_true)))
    after = np.clip(np.searchsorted(t_true, t_model), 1, len(t_true) - 1)
    j = np.where(np.abs(t_true[after - 1] - t_model) <= np.abs(t_true[after] - t_model), after - 1, after)
    matched = np.abs(t_true[j] - t_model) <= tol
    mi, ti = np.where(matched)[0], j[matched]
    lh, rh = BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP
    true_ok = (score_true[ti, lh] > 0) & (score_true[ti, rh] > 0)
    width = np.linalg.norm(xy_true[ti, rh] - xy_true[ti, lh], axis=1)
    joints = {}
    for name in JOINTS:
        p = BodyPart[name.upper()]
        ok = (score_model[mi, p] >= min_score) & (score_true[ti, p] > 0)
        d = xy_model[mi[ok], p] - xy_true[ti[ok], p]
        err = np.linalg.norm(d, axis=1)
        share = err[true_ok[ok]] / width[ok][true_ok[ok]]
        joints[name] = JointError(
            frames=int(ok.sum()), median_px=_stat(err, np.median), p90_px=_stat(err, lambda v: np.percentile(v, 90)),
            bias_x_px=_stat(d[:, 0], np.mean), bias_y_px=_stat(d[:, 1], np.mean),
            median_hip_width=_stat(share, np.median))
    ok = (score_model[mi, lh] >= min_score) & (score_model[mi, rh] >= min_score) & true_ok
    theta_err = (image_obliquity_deg(xy_model[mi[ok], lh], xy_model[mi[ok], rh], view)
                 - image_obliquity_deg(xy_true[ti[ok], lh], xy_true[ti[ok], rh], view))
    theta_err = (theta_err + 180.0) % 360.0 - 180.0
    phase = stride_phase(t_model[mi[ok]], right_contacts_s)
    inside = np.isfinite(phase)
    locked = locked_deg = None
    if inside.sum() > 4 * HARMONICS:
        locked, locked_deg = stride_locked_share(theta_err[inside], phase[inside])
    return KeypointReport(
        frames=len(t_model), matched_frames=int(matched.sum()),
        hip_width_px=_stat(width[true_ok], np.median), joints=joints, obliquity_frames=int(ok.sum()),
        obliquity_bias_deg=_stat(theta_err, np.mean), obliquity_sd_deg=_stat(theta_err, np.std),
        obliquity_stride_locked_share=locked, obliquity_stride_locked_deg=locked_deg)


def format_report(r: KeypointReport) -> str:
    """The per-frame pose-model report as text, one keypoint per line."""

    def f(v: float | None, fmt: str) -> str:
        return "n/a" if v is None else format(v, fmt)

    lines = [f"pose model vs true joints: {r.matched_frames} of {r.frames} frames matched, "
             f"true hip width {f(r.hip_width_px, '.1f')} px",
             "  keypoint      frames  median px  p90 px  bias x,y px    median / hip width"]
    for name, e in r.joints.items():
        lines.append(f"  {name:<12} {e.frames:>7}  {f(e.median_px, '9.1f')}  {f(e.p90_px, '6.1f')}  "
                     f"{f(e.bias_x_px, '+5.1f')},{f(e.bias_y_px, '+5.1f')}   {f(e.median_hip_width, '6.1%')}")
    lines.append(f"  obliquity error (model - true hip line, {r.obliquity_frames} frames): "
                 f"bias {f(r.obliquity_bias_deg, '+.2f')} deg, SD {f(r.obliquity_sd_deg, '.2f')} deg, "
                 f"stride-locked {f(r.obliquity_stride_locked_share, '.0%')} of its variance "
                 f"({f(r.obliquity_stride_locked_deg, '.2f')} deg RMS)")
    return "\n".join(lines)
