"""The streaming gait analyzer: one pose in, completed steps out.

Live and offline are the same code: :func:`analyze_track` is this analyzer fed
sample by sample.

How a step is found, from what a frontal (posterior or anterior) camera sees of
the lower body, and why:

* **Stance side** comes from the feet: the stance foot is on the ground and the
  swing foot is lifted, so the stance ankle is the lower one in the image. The
  signal is D(t) = (y_right_ankle - y_left_ankle) / leg length (image y is down,
  so D > 0 in right stance), smoothed. The side flips only when |D| passes a
  hysteresis threshold well above keypoint noise (``side_hysteresis_leg``), so a
  runner standing, with both feet level, never produces steps.
* **Initial contact** is where D crosses zero before such a flip: the landing
  foot reaches the ground while the other one, which left it a flight phase ago,
  is rising.
* **End of stance** comes from the pelvis: in running the body's centre of mass
  moves like a spring-mass system whose lowest point is mid-stance, symmetric
  between contact and toe-off. The hip midpoint is lowest (largest image y) at
  mid-stance t_mid, and t_end = 2 t_mid - t_contact. A step without such a
  minimum of hip height (a real bounce, ``min_bounce_leg``) is not a running step
  and is rejected.
* **When the feet cannot time a step**: if the crossing makes the stance longer
  than running allows (over ``max_stance_s``, or not shorter than the step period,
  which would leave no flight phase) and the landing ankle's own trajectory shows
  no contact either, the step is timed from the pelvis alone: its low point is
  mid-stance, and contact and end are half a typical running stance either side
  (``typical_duty_factor`` x the step period between recent mid-stances). Only the
  side comes from the feet, and only if the ankles agree at mid-stance (the stance
  ankle lower than over the stride). Such steps carry ``contact_estimated``. A
  low camera behind a receding runner (the landing foot is the farther one and
  looks higher) makes the feet cross that early.
* **The drop** comes from a model of the obliquity over the whole stride cycle
  (:mod:`station.gait.drop_model`): a few Wiener-shrunk Fourier harmonics of the
  stride phase defined by the detected contacts, fitted to every raw sample seen
  (flight phases included). A step's value is its share of the model, so a side's
  mean of per-step values is the model's estimate from all the data; reading a
  maximum of one step's noisy samples would be biased upwards by several degrees
  at realistic keypoint noise.
* **Scale and drift**: D is normalised by the leg length over the last stride and
  its offset over the last stride is removed; the hip's drift (a runner receding or
  approaching) is measured over the last two step periods and removed before the
  mid-stance search.

Only steps whose contact, mid-stance and stance end were all seen are emitted;
gaps longer than ``max_gap_s`` reset the side tracking, so nothing is invented
when the runner leaves, stops or is partly out of frame.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from station.coco import BodyPart
from station.errors import InputError
from station.gait.arms import ArmSwing
from station.gait.drop_model import BASE, StrideDropModel
from station.gait.filters import (
    half_width_s,
    local_quadratic,
)
from station.gait.framing import (
    REASON_REVERSED,
    REASON_SIDE,
    REASON_SMALL,
    FramingStatus,
    check_frame,
    hips_reversed,
    lateral_sign,
    swap_left_right,
)
from station.gait.steps import FLAG_CONTACT_ESTIMATED, FLAG_GAPS, FLAG_NO_CADENCE, FLAG_SWAP_REPAIRED, FLAG_WARMUP, Step

__all__ = ["AnalyzerSettings", "GaitAnalyzer", "analyze_track"]

LH, RH = int(BodyPart.LEFT_HIP), int(BodyPart.RIGHT_HIP)
LK, RK = int(BodyPart.LEFT_KNEE), int(BodyPart.RIGHT_KNEE)
LA, RA = int(BodyPart.LEFT_ANKLE), int(BodyPart.RIGHT_ANKLE)
LS, RS = int(BodyPart.LEFT_SHOULDER), int(BodyPart.RIGHT_SHOULDER)

# raw per-frame signal columns
C_THETA, C_D, C_HIPY, C_LEAN, C_FPPA_L, C_FPPA_R, C_WIDTH_L, C_WIDTH_R, C_ANK_L, C_ANK_R, C_HIP_L, C_HIP_R = range(12)
N_SIG = 12
EVENT_COLS = [C_D, C_HIPY]
# D and the hip height are smoothed on the frames that show both ankles (both hips): a difference taken within
# a frame cancels what the two keypoints share (the bounce, a receding runner, camera shake). Where too few
# frames show both (keypoint dropouts), they come from each keypoint's own smoothed height instead.
FALLBACK_COLS = [C_ANK_L, C_ANK_R, C_HIP_L, C_HIP_R]
METRIC_COLS = [C_THETA, C_LEAN, C_FPPA_L, C_FPPA_R, C_WIDTH_L, C_WIDTH_R]

# the bounds of what may be declared about the camera (the settings file and page check the same ones)
MAX_CAMERA_ROLL_DEG = 45.0
CAMERA_DISTANCE_RANGE_M = (0.5, 50.0)


@dataclass(frozen=True)
class AnalyzerSettings:
    """Analyzer settings. Every constant comes from running physiology or signal processing, not from one file."""

    view: str = "posterior"  # "posterior" | "anterior"
    camera_roll_deg: float | None = None  # declared camera roll: a level line appears this many deg clockwise
    min_score: float = 0.3  # keypoint confidence below which a keypoint counts as not seen
    # step rate bounds of running (and brisk walking): 100..240 steps/min
    min_step_rate_spm: float = 100.0
    max_step_rate_spm: float = 240.0
    # ground contact time of running is 0.1..0.45 s from sprinting to slow jogging
    min_stance_s: float = 0.08
    max_stance_s: float = 0.45
    # stance over step period of running (duty factor = stance / stride time, 0.3..0.45 from sprinting to jogging:
    # stance = 2 x duty factor x step period); the middle of that range times a step the feet cannot time
    typical_duty_factor: float = 0.375
    # smoothing: the obliquity keeps the first `cutoff_harmonics` harmonics of the step frequency; the event
    # signals (feet, hip height) need only the step fundamental and its second harmonic
    cutoff_harmonics: float = 3.0
    # the drop model (station.gait.drop_model): obliquity over the stride as this many harmonics of the stride
    # frequency, each shrunk by its own signal-to-noise ratio. 8 hold 99.9 % of the cycle's power, but the peak
    # is a sharper feature than the power says: on the clean mocap track at 120 fps the model's peak converges
    # only at 12 (8: -0.08 deg on the right peak; 12 and 16 agree), and under noise the shrinkage fades the
    # extra ones out (seed statistics in docs/validation.md: same SD, bias toward 0)
    drop_harmonics: int = 12
    # the model forgets with this time constant in steps (about 2 minutes of running): a tiring runner's
    # drop changes over minutes
    drop_memory_steps: float = 300.0
    event_cutoff_harmonics: float = 2.0
    # the smoothers' lag (half their kernel) is capped so that a step is out within 0.25 s of its end even at
    # slow cadences and 30 fps: 0.25 s minus a frame interval and the sub-frame rounding
    max_lag_s: float = 0.2
    default_cadence_spm: float = 170.0  # step frequency assumed until steps have been measured
    # the stance ankle is lower than the swing ankle by 10-30 % of leg length in running (less in the image of
    # a distant runner seen from a low camera); 3 % is over 4 sd of the smoothed ankle-height difference at
    # keypoint noise of 0.5 % of body height, so feet standing level never flip the side
    side_hysteresis_leg: float = 0.03
    # vertical oscillation of the pelvis in running is 5-12 cm (6-13 % of leg length): a mid-stance low point
    # must stand out by at least 1 % of leg length to count
    min_bounce_leg: float = 0.01
    max_gap_s: float = 0.3  # longer stretches without feet/hips reset the side tracking
    min_hip_width_px: float = 15.0  # below this, 1 px of keypoint error is more than 4 deg of obliquity
    # hips closer together in the image than this fraction of the leg length: the runner is seen from the side.
    # Seen from behind or in front the ratio is 0.18-0.3 (mocap hip joint centres, MoveNet's hips); 0.1 is a
    # yaw of ~65 deg, where the image obliquity is 2.4 x the pelvis's and the feet no longer tell the sides
    min_hip_leg_ratio: float = 0.1
    # left/right reversed on more frames in a row than this: the runner faces the other way (or the view
    # setting is wrong); a few frames are a pose model's label swap, repaired
    max_reversed_frames: int = 15
    # the drop model is read once each side has been seen this many times and the samples determine it (a
    # whole stride covered; station.gait.drop_model); before, a step's drop comes from its own samples
    template_min_steps: int = 1
    # strength of the drop model's per-harmonic Wiener shrinkage (1: the Wiener filter, 0: plain least squares).
    # The Wiener factor flattens sharp drops (-0.4..-0.8 deg on s02 and s32 at 30 fps / 0.3 % noise) and lowers
    # the peak; none lets more noise through. Over {0, 0.5, 1}, leave-one-runner-out, the pass rates tie within
    # the seeds' noise (docs/validation.md); 0 leaves no constant to tune, keeps sharp drops unflattened, and its
    # 95 % interval is exactly the estimate's own (the delta method of least squares)
    drop_shrinkage: float = 0.0
    # contact from the knee of the landing ankle's trajectory instead of the feet's crossing: robust to camera
    # distance (median error <= 30 ms at 2-5 m against 47-50 ms for the crossing), but 25 ms early and
    # noisier at 3 m, where the crossing is within 6 ms, and recall falls to 90 % at 5 m; off by default
    # (docs/validation.md has both tables)
    refine_contact: bool = False
    # declared camera distance (lens to pelvis, m; None = unknown). Nearer than `near_camera_m` the perspective
    # lifts the farther, landing foot so much that the feet cross 45-75 ms after contact (at 2-1.5 m; within
    # 25 ms at 2.5-5 m); without the pelvis calibration (contact_from_pelvis=False), contact then comes from the
    # landing ankle's own trajectory, as with refine_contact (docs/validation.md, "Camera distance")
    camera_distance_m: float | None = None
    near_camera_m: float = 2.5
    # contact calibrated on the pelvis (see GaitAnalyzer._pelvis_contact): contact precedes the hip's fastest
    # descent by this fraction of the time from there to the hip's low point (0.412 and 0.416 on the two
    # force-plate runners s01 and s02; s32, held out, 0.459: docs/validation.md, leave-one-runner-out); the
    # feet's crossing is moved by the median of its offset from that over the last `contact_calibration_steps`
    # steps. It makes the declared camera distance unnecessary for contact (the crossing's own bias, -50..+75 ms
    # over 2-5 m, is what is calibrated away)
    contact_from_pelvis: bool = True
    pelvis_contact_ratio: float = 0.41
    contact_calibration_steps: int = 16
    # each step's contact is the feet's (calibrated as above) and the pelvis's own for this step averaged, each
    # weighted by the inverse of its jitter, which the recent steps show (GaitAnalyzer._pelvis_weight): two
    # readings of one instant with independent errors; False keeps the feet's calibrated contact alone
    contact_blend: bool = True
    buffer_s: float = 4.0

    def __post_init__(self) -> None:
        if self.view not in ("posterior", "anterior"):
            raise InputError(f"view must be 'posterior' or 'anterior', not {self.view!r}")
        if not 0.0 <= self.min_score <= 1.0:
            raise InputError(f"min_score must be within 0..1, not {self.min_score}")
        if self.camera_roll_deg is not None and not (math.isfinite(self.camera_roll_deg)
                                                     and abs(self.camera_roll_deg) <= MAX_CAMERA_ROLL_DEG):
            raise InputError(f"camera_roll_deg must be within ±{MAX_CAMERA_ROLL_DEG:g}°, not {self.camera_roll_deg}")
        lo, hi = CAMERA_DISTANCE_RANGE_M
        if self.camera_distance_m is not None and not (math.isfinite(self.camera_distance_m)
                                                       and lo <= self.camera_distance_m <= hi):
            raise InputError(f"camera_distance_m must be between {lo:g} and {hi:g} m, not {self.camera_distance_m}")

    @property
    def contact_from_ankle(self) -> bool:
        """Time contact on the landing ankle's trajectory rather than the feet's crossing."""
        near = self.camera_distance_m is not None and self.camera_distance_m < self.near_camera_m
        return self.refine_contact or (near and not self.contact_from_pelvis)


@dataclass
class _Pending:
    side: str
    t_contact_s: float
    t_prev_contact_s: float | None
    hip_y_at_contact: float = math.nan
    t_mid_s: float | None = None
    t_end_s: float | None = None
    trend_px_s: float = 0.0  # drift of hip height over the last stride (a runner moving toward or away)
    dead: bool = False  # its mid-stance gave an implausible stance time: dropped at max_stance_s
    estimated: bool = False  # timed from the pelvis: contact and end at half a typical stance from mid-stance


@dataclass
class _Evaluated:
    """Smoothed signals at sample times, kept for the metrics of pending steps."""

    t: list[float] = field(default_factory=list)
    sig: list[np.ndarray] = field(default_factory=list)


class GaitAnalyzer:
    """Streaming analyzer. Feed it with :meth:`update`, end with :meth:`finish`."""

    def __init__(self, settings: AnalyzerSettings | None = None) -> None:
        self.settings = settings or AnalyzerSettings()
        self._sign = lateral_sign(self.settings.view)
        # raw buffer (absolute sample index = self._base + list index)
        self._base = 0
        self._t: list[float] = []
        self._sig: list[np.ndarray] = []
        self._ok: list[np.ndarray] = []
        self._qual: list[np.ndarray] = []  # min score of hips, left leg, right leg; share of the two hips seen
        self._swapped: list[bool] = []
        self._leg_hist: deque[tuple[float, float]] = deque()
        self._hip_w_px = math.nan  # hip width on the last frame that showed both hips
        self._leg_px_now = math.nan  # median leg length over the last stride (kept with _leg_hist)
        self._cursor = 0  # absolute index of the next sample to evaluate
        self._eval = _Evaluated()
        self._eval_base = 0
        # event state
        self._state: str | None = None
        self._last_d: tuple[float, float] | None = None  # (t, D) of the last valid smoothed D (offset removed)
        self._d_hist: deque[tuple[float, float]] = deque()  # (t, smoothed D) over the last stride, for its offset
        self._last_zero_t: float | None = None
        self._last_valid_t: float | None = None
        self._last_contact_s: float | None = None
        self._pending: list[_Pending] = []
        self._drop = StrideDropModel(self.settings.drop_harmonics, self.settings.drop_memory_steps,
                                     self.settings.template_min_steps, self.settings.drop_shrinkage)
        self._owned_until_s = -math.inf  # raw samples up to here have gone into the drop model
        self._periods: deque[float] = deque(maxlen=8)
        self._stances: deque[float] = deque(maxlen=9)
        self._mid_periods: deque[float] = deque(maxlen=8)  # intervals between accepted mid-stances (pelvis)
        self._last_mid_s: float | None = None
        # the pelvis's contact against the feet's (s) and its lead on mid-stance (s), over recent steps
        self._contact_offsets: dict[str, deque[float]] = {
            side: deque(maxlen=self.settings.contact_calibration_steps) for side in ("left", "right")}
        self._contact_lead_s: deque[float] = deque(maxlen=self.settings.contact_calibration_steps)
        # per side, recent steps' (feet's calibrated contact, pelvis's contact), s: their jitter sets the blend
        self._contact_pairs: dict[str, deque[tuple[float, float]]] = {
            side: deque(maxlen=self.settings.contact_calibration_steps) for side in ("left", "right")}
        self._status = FramingStatus(in_view=False, framing_ok=False, reason="no frames yet")
        self._reversed_run = 0
        self._arms = ArmSwing()  # arm swing per step (station.gait.arms), from the wrists when they are seen
        self.frames = 0
        self.steps_emitted = 0
        self.steps_rejected = 0

    # ------------------------------------------------------------------ public API
    @property
    def status(self) -> FramingStatus:
        return self._status

    @property
    def cadence_spm(self) -> float:
        """Current step rate estimate (the default until a few steps have been measured)."""
        if len(self._periods) >= 2:
            return 60.0 / float(np.median(self._periods))
        return self.settings.default_cadence_spm

    def update(
        self, t_s: float, xy: np.ndarray, score: np.ndarray, frame_size: tuple[int, int] | None = None
    ) -> list[Step]:
        """Add one pose at source time ``t_s``; returns the steps this sample completes."""
        xy = np.asarray(xy, dtype=np.float64).reshape(17, 2)
        score = np.asarray(score, dtype=np.float64).reshape(17)
        t_s = float(t_s)
        if self._t and not t_s > self._t[-1]:
            return []  # a repeated or out-of-order timestamp carries no new information
        self.frames += 1
        ok = (score >= self.settings.min_score) & np.isfinite(xy).all(axis=1)
        swapped = hips_reversed(xy, ok, self._sign)
        if swapped:
            xy, score = swap_left_right(xy, score)
            ok = (score >= self.settings.min_score) & np.isfinite(xy).all(axis=1)
            self._reversed_run += 1
        elif ok[LH] and ok[RH]:
            self._reversed_run = 0
        reason = check_frame(xy, ok, self.settings.min_hip_width_px, frame_size)
        if ok[LH] and ok[RH]:
            self._hip_w_px = float(np.hypot(*(xy[RH] - xy[LH])))
        # judged on the last frame that showed both hips when one is missing, against the leg length of the
        # last stride
        side_on = bool(self._hip_w_px < self.settings.min_hip_leg_ratio * self._leg_px())
        reversed_on = self._reversed_run > self.settings.max_reversed_frames
        if reason is None and reversed_on:
            reason = REASON_REVERSED
        if reason in (None, REASON_SMALL) and side_on:
            reason = REASON_SIDE
        in_view = bool(ok[[LH, RH, LK, RK, LA, RA]].any())
        self._status = FramingStatus(in_view=in_view, framing_ok=reason is None, reason=reason)

        # measure what the keypoints seen allow, unless the runner is too small, seen from the side or facing
        # the other way
        small = not self._hip_w_px >= self.settings.min_hip_width_px
        sig, valid = self._features(t_s, xy, ok, small=small or side_on or reversed_on)
        self._t.append(t_s)
        self._sig.append(sig)
        self._ok.append(valid)
        sc = np.where(ok, score, 0.0)
        self._qual.append(np.array([min(sc[LH], sc[RH]), min(sc[LK], sc[LA]), min(sc[RK], sc[RA]),
                                    0.5 * (float(sc[LH] > 0) + float(sc[RH] > 0))]))
        self._swapped.append(swapped)
        self._arms.add(t_s, xy, ok)
        out = [self._arms.measure(s) for s in self._advance(final=False)]
        self._trim()
        return out

    def finish(self) -> list[Step]:
        """Flush at the end of the stream: evaluate the remaining samples with the data there is."""
        out = [self._arms.measure(s) for s in self._advance(final=True)]
        self._pending.clear()
        return out

    # ------------------------------------------------------------------ per-frame features
    def _features(self, t_s: float, xy: np.ndarray, ok: np.ndarray, small: bool) -> tuple[np.ndarray, np.ndarray]:
        """One frame's raw signals: each one its own keypoints allow (NaN where they were not seen)."""
        sig = np.full(N_SIG, np.nan)
        valid = np.zeros(N_SIG, dtype=bool)
        if small:
            return sig, valid
        s = self._sign
        both_hips = bool(ok[LH] and ok[RH])
        if ok[LH]:
            sig[C_HIP_L] = xy[LH, 1]
        if ok[RH]:
            sig[C_HIP_R] = xy[RH, 1]
        lh, rh = xy[LH], xy[RH]
        mid = (lh + rh) / 2.0
        hip_w = self._hip_w_px  # this frame's when both hips are seen (the only case it is used in)
        if both_hips:
            # obliquity: left hip -> right hip against the horizontal, + when the right hip is higher (y is down)
            sig[C_THETA] = math.degrees(math.atan2(-(rh[1] - lh[1]), s * (rh[0] - lh[0])))
            sig[C_HIPY] = mid[1]
            if ok[LA] and ok[RA]:
                leg = (xy[LA, 1] + xy[RA, 1]) / 2.0 - mid[1]
                if leg > hip_w:  # feet below the hips by a plausible amount
                    self._leg_hist.append((t_s, leg))
        # the current leg length: the median over the last stride (a runner receding from or approaching the
        # camera changes it by the second; within a stride the median ignores the legs' own motion)
        while self._leg_hist and self._leg_hist[0][0] < t_s - 2.0 * 60.0 / self.cadence_spm:
            self._leg_hist.popleft()
        self._leg_px_now = float(np.median([v for _, v in self._leg_hist])) if self._leg_hist else math.nan
        leg_px = self._leg_px_now
        if ok[LA] and ok[RA] and math.isfinite(leg_px):
            sig[C_D] = (xy[RA, 1] - xy[LA, 1]) / leg_px
        if math.isfinite(leg_px):
            if ok[LA]:
                sig[C_ANK_L] = xy[LA, 1] / leg_px
            if ok[RA]:
                sig[C_ANK_R] = xy[RA, 1] / leg_px
        if not both_hips:
            return sig, np.isfinite(sig)
        if ok[LS] and ok[RS]:
            sh = (xy[LS] + xy[RS]) / 2.0
            if sh[1] < mid[1]:
                sig[C_LEAN] = math.degrees(math.atan2(s * (sh[0] - mid[0]), mid[1] - sh[1]))  # + toward runner's right
        for side, (h, k, a) in (("left", (LH, LK, LA)), ("right", (RH, RK, RA))):
            if ok[k] and ok[a]:
                thigh, shank = xy[k] - xy[h], xy[a] - xy[k]
                phi = math.degrees(math.atan2(thigh[0] * shank[1] - thigh[1] * shank[0], float(thigh @ shank)))
                # valgus = knee medial of the hip-ankle line; medial is -x for the right leg in posterior view
                sig[C_FPPA_R if side == "right" else C_FPPA_L] = -s * phi if side == "right" else s * phi
            if ok[a] and hip_w > 0:
                out = s if side == "right" else -s  # image x direction away from the midline on this side
                sig[C_WIDTH_R if side == "right" else C_WIDTH_L] = out * (xy[a, 0] - mid[0]) / hip_w
        valid = np.isfinite(sig)
        return sig, valid

    # ------------------------------------------------------------------ smoothing
    def _half_widths(self) -> tuple[float, float]:
        n = min(len(self._t), 16)
        dt = float(np.median(np.diff(self._t[-n:]))) if n >= 2 else 1.0 / 30.0
        step_hz = self.cadence_spm / 60.0
        h_metric = half_width_s(self.settings.cutoff_harmonics * step_hz, dt)
        h_event = half_width_s(self.settings.event_cutoff_harmonics * step_hz, dt)
        cap = self.settings.max_lag_s
        return min(h_metric, cap), min(h_event, cap)

    def _advance(self, final: bool) -> list[Step]:
        out: list[Step] = []
        if not self._t:
            return out
        h_metric, h_event = self._half_widths()
        lag = max(h_metric, h_event)
        t_last = self._t[-1]
        n_abs = self._base + len(self._t)
        while self._cursor < n_abs:
            i = self._cursor - self._base
            t_i = self._t[i]
            if not final and t_i > t_last - lag:
                break
            self._evaluate(i, h_metric, h_event)
            self._cursor += 1
            out.extend(self._events(self._cursor - 1))
        if final:
            # pending steps whose end is within the data are complete; the rest are dropped
            t_end_data = self._eval.t[-1] if self._eval.t else -math.inf
            for p in list(self._pending):
                if p.t_end_s is not None and p.t_end_s <= t_end_data:
                    step = self._finalize(p)
                    self._pending.remove(p)
                    if step is not None:
                        out.append(step)
        return out

    def _evaluate(self, i: int, h_metric: float, h_event: float) -> None:
        t_i = self._t[i]
        lo = i
        h = max(h_metric, h_event)
        while lo > 0 and self._t[lo - 1] > t_i - h:
            lo -= 1
        hi = i
        while hi + 1 < len(self._t) and self._t[hi + 1] < t_i + h:
            hi += 1
        t = np.asarray(self._t[lo:hi + 1])
        sig = np.asarray(self._sig[lo:hi + 1])
        ok = np.asarray(self._ok[lo:hi + 1])
        sm = np.full(N_SIG, np.nan)
        sm[EVENT_COLS] = local_quadratic(t, sig[:, EVENT_COLS], ok[:, EVENT_COLS], t_i, h_event)
        if not (math.isfinite(sm[C_D]) and math.isfinite(sm[C_HIPY])):
            sm[FALLBACK_COLS] = local_quadratic(t, sig[:, FALLBACK_COLS], ok[:, FALLBACK_COLS], t_i, h_event)
            if not math.isfinite(sm[C_D]):
                sm[C_D] = sm[C_ANK_R] - sm[C_ANK_L]
            if not math.isfinite(sm[C_HIPY]):
                sm[C_HIPY] = 0.5 * (sm[C_HIP_L] + sm[C_HIP_R])
        sm[METRIC_COLS] = local_quadratic(t, sig[:, METRIC_COLS], ok[:, METRIC_COLS], t_i, h_metric)
        self._eval.t.append(t_i)
        self._eval.sig.append(sm)

    # ------------------------------------------------------------------ events
    def _events(self, abs_index: int) -> list[Step]:
        st = self.settings
        t = self._eval.t[-1]
        sm = self._eval.sig[-1]
        d, hip_y = sm[C_D], sm[C_HIPY]
        out: list[Step] = []
        if math.isfinite(d) and math.isfinite(hip_y):
            if self._last_valid_t is not None and t - self._last_valid_t > st.max_gap_s:
                self._reset_tracking()
            self._last_valid_t = t
            d = self._remove_d_offset(t, d)
            if self._last_d is not None and (self._last_d[1] < 0.0) != (d < 0.0):
                t0, d0 = self._last_d
                self._last_zero_t = t0 + (t - t0) * (0.0 - d0) / (d - d0) if d != d0 else t
            self._last_d = (t, d)
            new_side = "right" if d >= st.side_hysteresis_leg else "left" if d <= -st.side_hysteresis_leg else None
            if new_side is not None and new_side != self._state:
                if self._state is not None and self._last_zero_t is not None:
                    self._contact(new_side, self._last_zero_t, hip_y_now=hip_y)
                self._state = new_side
            for p in self._pending:
                if p.t_end_s is None:
                    self._track_mid(p, t, hip_y)
        elif self._last_valid_t is not None and t - self._last_valid_t > st.max_gap_s:
            self._reset_tracking()
        # steps whose stance is over and whose smoothed signals are in: emit
        for p in list(self._pending):
            if p.t_end_s is not None and t >= p.t_end_s:
                self._pending.remove(p)
                step = self._finalize(p)
                if step is not None:
                    out.append(step)
            elif p.t_end_s is None and t > p.t_contact_s + st.max_stance_s:
                self._pending.remove(p)  # no mid-stance low point: not a running stance
                self.steps_rejected += 1
        return out

    def _remove_d_offset(self, t: float, d: float) -> float:
        """D minus its mean over the last stride.

        The feet alternate once per stride, so over one stride D averages to its offset: a
        static difference of the ankles' image heights (a rolled camera, a runner off the
        image centre seen from a low camera, a slope) that is not a stance. Until a whole
        stride has been seen the offset is taken as 0.
        """
        stride_s = 2.0 * 60.0 / self.cadence_spm
        self._d_hist.append((t, d))
        while self._d_hist and self._d_hist[0][0] < t - stride_s:
            self._d_hist.popleft()
        if t - self._d_hist[0][0] < 0.9 * stride_s:
            return d
        return d - float(np.mean([v for _, v in self._d_hist]))

    def _reset_tracking(self) -> None:
        self._state = None
        self._last_d = None
        self._d_hist.clear()
        self._last_zero_t = None
        self._last_contact_s = None
        self._last_mid_s = None
        self.steps_rejected += len(self._pending)
        self._pending.clear()

    def _contact(self, side: str, t_contact: float, hip_y_now: float) -> None:
        # a new contact ends the search for the previous step's mid-stance
        for p in list(self._pending):
            if p.t_end_s is None:
                self._pending.remove(p)
                self.steps_rejected += 1
        hip_c = self._value_at(C_HIPY, t_contact)
        p = _Pending(side=side, t_contact_s=t_contact, t_prev_contact_s=self._last_contact_s, hip_y_at_contact=hip_c)
        self._last_contact_s = t_contact
        # replay the samples since contact for the mid-stance search
        for tj, sj in zip(self._eval.t, self._eval.sig, strict=True):
            if tj >= t_contact and math.isfinite(sj[C_HIPY]):
                self._track_mid(p, tj, sj[C_HIPY])
        self._pending.append(p)

    def _hip_trend(self, t_c: float, t_now: float) -> float:
        """The hip's drift in px/s around a stance (a runner receding from or approaching the camera).

        A line plus one sinusoid at the step frequency, fitted to the smoothed hip height over the
        step period before contact and the stance so far: the sinusoid takes the bounce, the line
        the drift, whatever the bounce's phase. 0 when less than a step period has been seen.
        """
        step_s = 60.0 / self.cadence_spm
        ts = self._eval.t
        lo = bisect.bisect_left(ts, t_c - step_s)
        hi = bisect.bisect_right(ts, t_now)
        tt = np.asarray(ts[lo:hi]) - t_c
        hy = np.asarray([v[C_HIPY] for v in self._eval.sig[lo:hi]])
        ok = np.isfinite(hy)
        if ok.sum() < 6 or tt[ok][-1] - tt[ok][0] < 0.9 * step_s:
            return 0.0
        tt, hy = tt[ok], hy[ok]
        w = 2.0 * math.pi / step_s
        x = np.stack([np.ones_like(tt), tt, np.cos(w * tt), np.sin(w * tt)], axis=1)
        coef, *_ = np.linalg.lstsq(x, hy, rcond=None)
        return float(coef[1])

    def _track_mid(self, p: _Pending, t: float, hip_y: float) -> None:
        """Find the hip's lowest point (largest image y) after contact, confirmed once it rises again.

        The drift is re-estimated with every new sample (:meth:`_hip_trend`) and the search is redone
        on the detrended height since contact.
        """
        if t < p.t_contact_s or p.dead or p.t_mid_s is not None:
            return
        ts = self._eval.t
        lo = bisect.bisect_left(ts, p.t_contact_s)
        hi = bisect.bisect_right(ts, t)
        if hi - lo < 3:
            return
        p.trend_px_s = self._hip_trend(p.t_contact_s, t)
        tt = np.asarray(ts[lo:hi])
        hy = np.asarray([v[C_HIPY] for v in self._eval.sig[lo:hi]]) - p.trend_px_s * (tt - p.t_contact_s)
        if not np.isfinite(hy).any():
            return
        k = int(np.nanargmax(hy))
        best = float(hy[k])
        bounce = self.settings.min_bounce_leg * self._leg_px()
        last = hy[np.isfinite(hy)][-1]
        if not (best - last >= bounce and best - p.hip_y_at_contact >= bounce and k < hi - lo - 1):
            return
        t_mid = self._refine_peak(lo + k, p.trend_px_s, p.t_contact_s)
        self._set_mid(p, t_mid)

    def _set_mid(self, p: _Pending, t_mid: float) -> None:
        """Mid-stance found: time the contact (the feet's, calibrated on the pelvis), then check the stance."""
        st = self.settings
        refined = None
        if st.view == "anterior":
            refined = self._contact_anterior(p.side, p.t_contact_s, t_mid)
        elif st.contact_from_ankle:
            refined = self._contact_knee(p.side, p.t_contact_s, t_mid)
        if refined is not None:
            self._move_contact(p, refined)
        period_s = self._mid_period_s()
        pelvis = self._pelvis_contact(t_mid, p.trend_px_s, p.t_contact_s) if st.contact_from_pelvis else None
        if pelvis is not None:
            self._contact_lead_s.append(t_mid - pelvis)
        stance = 2.0 * (t_mid - p.t_contact_s)
        if stance > st.max_stance_s and not st.contact_from_pelvis:
            # the feet crossed far earlier than a stance allows: with a camera low behind a receding (or in front
            # of an approaching) runner the landing foot is the farther (nearer) one and looks higher (lower)
            # than it is. The landing foot's own trajectory turns at contact: search up to mid-stance.
            refined = self._contact_knee(p.side, p.t_contact_s, t_mid, to_mid=True)
            if refined is not None and st.min_stance_s <= 2.0 * (t_mid - refined):
                self._move_contact(p, refined)
                stance = 2.0 * (t_mid - refined)
        if stance > st.max_stance_s or stance >= period_s:
            # still longer than running allows (a stance longer than the step period leaves no flight phase):
            # time the step from the pelvis, whose low point is mid-stance, and keep from the feet only the side,
            # checked where it is clearest, at mid-stance. Contact at the pelvis's usual lead on its low point
            # (else half a typical stance), the end as far after it.
            half_s = st.typical_duty_factor * period_s
            if self._stance_side_at(t_mid, half_s, period_s) != p.side:
                p.dead = True
                return
            if self._contact_lead_s:
                half_s = float(np.median(self._contact_lead_s))
            self._move_contact(p, t_mid - half_s)
            p.estimated = True
            stance = 2.0 * half_s
        elif st.contact_from_pelvis:
            # the feet's contact, moved by its median offset from the pelvis's over recent steps
            offsets = self._contact_offsets[p.side]
            if pelvis is not None and abs(pelvis - p.t_contact_s) <= 0.5 * period_s:
                offsets.append(pelvis - p.t_contact_s)
            if offsets:
                t_c = p.t_contact_s + float(np.median(offsets))
                if st.contact_blend and pelvis is not None and abs(pelvis - t_c) <= 0.25 * period_s:
                    self._contact_pairs[p.side].append((t_c, pelvis))
                    w = self._pelvis_weight(period_s)
                    t_c = (1.0 - w) * t_c + w * pelvis
                self._move_contact(p, t_c)
                stance = 2.0 * (t_mid - p.t_contact_s)
        if st.min_stance_s <= stance <= st.max_stance_s:
            p.t_mid_s = t_mid
            p.t_end_s = p.t_contact_s + stance
            if self._last_mid_s is not None and self._plausible_period(t_mid - self._last_mid_s):
                self._mid_periods.append(t_mid - self._last_mid_s)
            self._last_mid_s = t_mid
        else:
            p.dead = True

    def _pelvis_weight(self, period_s: float) -> float:
        """The pelvis contact's weight against the feet's: the feet's jitter variance over the sum of both.

        Over recent steps, d = pelvis - feet has variance vf + vp (the runner's own step-to-step variation
        is in both and cancels). The second difference of each one's contacts over three consecutive
        strides of a side has variance 6 v + R, with R the runner's own variation, the same for both: so
        vf - vp = (Df - Dp) / 6. Hence vf / (vf + vp) = 1/2 + (Df - Dp) / (12 var(d)), in 0..1. Equal
        weights until a few strides are seen.
        """
        d, d2f, d2p = [], [], []
        for pairs in self._contact_pairs.values():
            d += [tp - tf for tf, tp in pairs]
            for (f0, p0), (f1, p1), (f2, p2) in zip(pairs, list(pairs)[1:], list(pairs)[2:], strict=False):
                g1, g2 = f1 - f0, f2 - f1
                if 1.5 * period_s <= g1 <= 2.5 * period_s and 1.5 * period_s <= g2 <= 2.5 * period_s:
                    d2f.append(f2 - 2.0 * f1 + f0)
                    d2p.append(p2 - 2.0 * p1 + p0)
        if len(d2f) < 4 or len(d) < 4:
            return 0.5
        var_d = float(np.var(d))
        if var_d <= 1e-12:
            return 0.5
        df, dp = float(np.mean(np.square(d2f))), float(np.mean(np.square(d2p)))
        return float(np.clip(0.5 + (df - dp) / (12.0 * var_d), 0.0, 1.0))

    def _pelvis_contact(self, t_mid: float, trend_px_s: float, t_ref: float) -> float | None:
        """Initial contact from the pelvis alone: its fastest descent and its low point.

        In running the body falls freely through the flight; the ground force rises from contact and
        equals body weight some 40-50 ms later, where the hip descends fastest (t_v); it is lowest at
        t_mid. Contact is ``pelvis_contact_ratio`` x (t_mid - t_v) before t_v: a ratio of two intervals
        of the same stance, so it scales with the runner's stance time (docs/validation.md: chosen on
        two runners, checked on the third). None when the descent has no clear fastest point.
        """
        ts = self._eval.t
        period_s = self._mid_period_s()
        lo = bisect.bisect_left(ts, t_mid - 0.45 * period_s)
        hi = bisect.bisect_right(ts, t_mid)
        if hi - lo < 4:
            return None
        tt = np.asarray(ts[lo:hi])
        hy = np.asarray([v[C_HIPY] for v in self._eval.sig[lo:hi]]) - trend_px_s * (tt - t_ref)
        if not np.isfinite(hy).all():
            return None
        v = np.diff(hy) / np.diff(tt)  # image y is down: + is falling
        tv = 0.5 * (tt[1:] + tt[:-1])
        k = int(np.argmax(v))
        if k == 0 or k == len(v) - 1:
            return None
        t_v = _vertex(tv[k - 1:k + 2], v[k - 1:k + 2])
        return t_v - self.settings.pelvis_contact_ratio * (t_mid - t_v)

    def _plausible_period(self, period_s: float) -> bool:
        st = self.settings
        return 60.0 / st.max_step_rate_spm <= period_s <= 60.0 / st.min_step_rate_spm

    def _mid_period_s(self) -> float:
        """The step period from the pelvis: the median interval of recent mid-stances, else the cadence estimate."""
        if self._mid_periods:
            return float(np.median(self._mid_periods))
        return 60.0 / self.cadence_spm

    def _stance_side_at(self, t_mid: float, half_s: float, period_s: float) -> str | None:
        """Which ankle is lower in the image over the middle of the stance, against its own mean over a stride.

        A check of the side the feet's crossing already gave (that one passed the side hysteresis), so the
        sign of the mean difference over the stance's middle frames is what counts. None when the feet were
        not both seen there.
        """
        t = np.asarray(self._t)
        diff = np.asarray([v[C_ANK_R] - v[C_ANK_L] for v in self._sig])  # > 0: right ankle lower (image y down)
        ok = np.isfinite(diff)
        mid = ok & (t >= t_mid - half_s) & (t <= t_mid + half_s)
        stride = ok & (t >= t_mid + half_s - 2.0 * period_s) & (t <= t_mid + half_s)
        if mid.sum() < 2 or stride.sum() < 4:
            return None
        d = float(np.mean(diff[mid]) - np.mean(diff[stride]))
        return "right" if d > 0 else "left" if d < 0 else None

    def _move_contact(self, p: _Pending, t_contact: float) -> None:
        if self._last_contact_s == p.t_contact_s:
            self._last_contact_s = t_contact
        p.t_contact_s = t_contact

    def _index_of(self, t: float) -> int:
        return int(np.searchsorted(np.asarray(self._eval.t), t))

    def _contact_anterior(self, side: str, t0: float, t_mid: float) -> float | None:
        """Initial contact in the anterior view: where the landing ankle is lowest in the image.

        Seen from the front, the landing foot comes down and toward the camera until contact (both
        move it down the image), and from contact on it moves away with the belt or stays put on
        the ground: its image height turns (or stops) at contact. The feet cross earlier than that,
        because the landing foot is the nearer one (about 0.1 s at 3 m), so the crossing only
        bounds the search: from a little before it to mid-stance. None when the lowest point is at
        an end of that window (no turn seen).
        """
        col = C_ANK_R if side == "right" else C_ANK_L
        t = np.asarray(self._t)
        h_event = self._half_widths()[1]
        lo = int(np.searchsorted(t, t0 - 0.05))
        hi = int(np.searchsorted(t, t_mid, side="right"))
        if hi - lo < 3:
            return None
        y = np.asarray([v[col] for v in self._sig])
        ok = np.isfinite(y)
        k0 = max(0, int(np.searchsorted(t, t0 - 0.05 - h_event)))
        k1 = min(len(t), int(np.searchsorted(t, t_mid + h_event, side="right")))
        sm = np.array([local_quadratic(t[k0:k1], y[k0:k1], ok[k0:k1], float(t[i]), h_event) for i in range(lo, hi)])
        if not np.isfinite(sm).any():
            return None
        k = int(np.nanargmax(sm))
        if k == 0 or k == len(sm) - 1 or not (np.isfinite(sm[k - 1]) and np.isfinite(sm[k + 1])):
            return None
        t1, t2, t3 = t[lo + k - 1], t[lo + k], t[lo + k + 1]
        y1, y2, y3 = sm[k - 1], sm[k], sm[k + 1]
        denom = (t1 - t2) * (t1 - t3) * (t2 - t3)
        a = (t3 * (y2 - y1) + t2 * (y1 - y3) + t1 * (y3 - y2)) / denom
        b = (t3 * t3 * (y1 - y2) + t2 * t2 * (y3 - y1) + t1 * t1 * (y2 - y3)) / denom
        return float(min(max(-b / (2 * a), t1), t3)) if a < 0 else float(t2)

    def _contact_knee(self, side: str, t0: float, t_mid: float, to_mid: bool = False) -> float | None:
        """Initial contact refined on the landing foot's own trajectory: where its image height turns.

        From initial contact the foot moves with the ground (with the belt toward the camera on a
        treadmill, not at all overground), so its image height changes slope there, whatever the
        camera's distance and height; the feet's crossing only approximates it. A continuous
        two-segment line is fitted to the raw ankle height around the crossing; its knee is the
        contact. None when the knee is not clearly better than one straight line. ``to_mid``: search
        all the way from the crossing to mid-stance (when the crossing came far too early).
        """
        col = C_ANK_R if side == "right" else C_ANK_L
        t = np.asarray(self._t)
        lo = int(np.searchsorted(t, t0 - 0.12))
        hi = int(np.searchsorted(t, t_mid if to_mid else min(t0 + 0.12, t_mid), side="right"))
        y = np.asarray([v[col] for v in self._sig[lo:hi]])
        tt = t[lo:hi]
        ok = np.isfinite(y)
        if ok.sum() < 5:
            return None
        tt, y = tt[ok], y[ok]
        line = np.stack([np.ones_like(tt), tt - t0], axis=1)
        rss_line = float(np.sum((y - line @ np.linalg.lstsq(line, y, rcond=None)[0]) ** 2))
        best_rss, best_tau = math.inf, None
        taus = np.arange(t0 - 0.08, t_mid - 0.02, 0.0025) if to_mid else t0 + np.arange(-0.08, 0.0801, 0.0025)
        for tau in taus:
            if tau <= tt[1] or tau >= tt[-2]:
                continue
            x = np.stack([np.ones_like(tt), np.minimum(tt - tau, 0.0), np.maximum(tt - tau, 0.0)], axis=1)
            coef, *_ = np.linalg.lstsq(x, y, rcond=None)
            rss = float(np.sum((y - x @ coef) ** 2))
            if rss < best_rss:
                best_rss, best_tau = rss, float(tau)
        # the knee must explain most of what a straight line leaves unexplained
        if best_tau is None or not best_rss < 0.5 * rss_line:
            return None
        return best_tau

    def _refine_peak(self, k: int, trend_px_s: float, t_c: float) -> float:
        """Sub-sample time of the hip's low point from a parabola through the three samples around it."""
        ts, ys = self._eval.t, self._eval.sig
        if 0 < k < len(ts) - 1:
            t0, t1, t2 = ts[k - 1], ts[k], ts[k + 1]
            y0, y1, y2 = (ys[j][C_HIPY] - trend_px_s * (ts[j] - t_c) for j in (k - 1, k, k + 1))
            if all(math.isfinite(v) for v in (y0, y1, y2)):
                denom = (t0 - t1) * (t0 - t2) * (t1 - t2)
                a = (t2 * (y1 - y0) + t1 * (y0 - y2) + t0 * (y2 - y1)) / denom
                b = (t2 * t2 * (y0 - y1) + t1 * t1 * (y2 - y0) + t0 * t0 * (y1 - y2)) / denom
                if a < 0:
                    return float(min(max(-b / (2 * a), t0), t2))
        return ts[k]

    def _leg_px(self) -> float:
        return self._leg_px_now

    def _value_at(self, col: int, t: float) -> float:
        ts = np.asarray(self._eval.t)
        vs = np.asarray([s[col] for s in self._eval.sig])
        ok = np.isfinite(vs)
        if ok.sum() < 2 or t < ts[ok][0] or t > ts[ok][-1]:
            return math.nan
        return float(np.interp(t, ts[ok], vs[ok]))

    # ------------------------------------------------------------------ metrics
    def _finalize(self, p: _Pending) -> Step | None:
        st = self.settings
        assert p.t_end_s is not None and p.t_mid_s is not None
        t_c, t_e = p.t_contact_s, p.t_end_s
        ts = np.asarray(self._eval.t)
        sig = np.asarray(self._eval.sig)
        lo, hi = np.searchsorted(ts, t_c), np.searchsorted(ts, t_e, side="right")
        raw_lo = max(0, int(np.searchsorted(np.asarray(self._t), t_c)))
        raw_hi = int(np.searchsorted(np.asarray(self._t), t_e, side="right"))
        frames = raw_hi - raw_lo
        qual = np.asarray(self._qual[raw_lo:raw_hi]) if frames > 0 else np.zeros((0, 4))
        leg_col = 2 if p.side == "right" else 1
        per_frame = np.minimum(qual[:, 0], qual[:, leg_col]) if frames else np.zeros(0)
        hips_seen = float(np.mean(qual[:, 3])) if frames else 0.0  # each hip's share of frames, averaged
        # a stance seen mostly left/right reversed is someone facing the other way, not a label glitch
        reversed_share = float(np.mean(self._swapped[raw_lo:raw_hi])) if frames else 0.0
        if frames == 0 or hips_seen < 0.5 or reversed_share > 0.5:
            self.steps_rejected += 1
            return None
        flags: list[str] = []
        if any(self._swapped[raw_lo:raw_hi]):
            flags.append(FLAG_SWAP_REPAIRED)
        if (per_frame <= 0).any():
            flags.append(FLAG_GAPS)
        if p.estimated:
            flags.append(FLAG_CONTACT_ESTIMATED)
        sgn = 1.0 if p.side == "right" else -1.0

        # drop: d(t) = +theta in right stance, -theta in left stance, from the stride model (station.gait.drop_model)
        self._stances.append(t_e - t_c)
        period = self._period_s(t_c, p.t_prev_contact_s)
        excursion = peak = t_peak = None
        self._drop.add(*self._stride_samples(p, period))
        drop = self._drop.step_values(p.side, float(np.median(self._stances)) / period)
        if drop is None:
            # no stride model yet (the first steps of a session or a track-side pass): this step's own samples
            drop = self._drop.local_values(p.side, *self._own_samples(t_c, t_e), t_e - t_c, period)
            flags.append(FLAG_WARMUP)
        exc_ci = peak_ci = None
        if drop is not None:
            excursion, t_peak, exc_ci = drop.excursion_deg, t_c + drop.u_peak * period, drop.excursion_ci95_deg
            if st.camera_roll_deg is not None:
                # image obliquity = true obliquity - roll: true d = image d + roll (right), - roll (left)
                peak, peak_ci = drop.peak_image_deg + sgn * st.camera_roll_deg, drop.peak_ci95_deg

        window = sig[lo:hi]
        lean = _mean_or_none(window[:, C_LEAN]) if len(window) else None
        if lean is not None:
            lean *= sgn
        fppa_col = C_FPPA_R if p.side == "right" else C_FPPA_L
        fppa = self._value_at(fppa_col, p.t_mid_s)
        width_col = C_WIDTH_R if p.side == "right" else C_WIDTH_L
        width = _mean_or_none(window[:, width_col]) if len(window) else None

        cadence = None
        if p.t_prev_contact_s is not None:
            period = t_c - p.t_prev_contact_s
            if 60.0 / st.max_step_rate_spm <= period <= 60.0 / st.min_step_rate_spm:
                cadence = float(60.0 / period)
                self._periods.append(period)
        if cadence is None:
            flags.append(FLAG_NO_CADENCE)
        self.steps_emitted += 1
        return Step(
            side=p.side,  # type: ignore[arg-type]
            t_contact_s=float(t_c),
            t_end_s=float(t_e),
            drop_excursion_deg=excursion,
            drop_peak_deg=peak,
            cadence_spm=cadence,
            trunk_lean_deg=lean,
            knee_fppa_deg=fppa if math.isfinite(fppa) else None,
            step_width_norm=width,
            t_peak_s=t_peak,
            drop_excursion_mean_ci95_deg=exc_ci,
            drop_peak_mean_ci95_deg=peak_ci,
            score_min=float(per_frame.min()),
            frames=frames,
            flags=tuple(flags),
        )

    def _period_s(self, t_c: float, t_prev: float | None) -> float:
        """The current step period: the median of recent ones, else this step's own, else the default cadence."""
        st = self.settings
        if len(self._periods) >= 2:
            return float(np.median(self._periods))
        if t_prev is not None and 60.0 / st.max_step_rate_spm <= t_c - t_prev <= 60.0 / st.min_step_rate_spm:
            return t_c - t_prev
        return 60.0 / st.default_cadence_spm

    def _own_samples(self, t_c: float, t_e: float) -> tuple[np.ndarray, np.ndarray]:
        """(time since contact, obliquity) of the raw samples from a little before contact to the stance end."""
        t = np.asarray(self._t)
        lo = int(np.searchsorted(t, t_c - 0.25 * (t_e - t_c)))
        hi = int(np.searchsorted(t, t_e, side="right"))
        theta = np.asarray([v[C_THETA] for v in self._sig[lo:hi]])
        return t[lo:hi] - t_c, theta

    def _stride_samples(self, p: _Pending, period: float) -> tuple[str, np.ndarray, np.ndarray]:
        """The raw obliquity samples this step brings to the drop model, with their stride phase.

        A step owns the samples after those of the previous finalized step (never before the
        previous contact) up to its stance end: the flight before its contact is mapped
        linearly between the two contacts, its stance from its contact at the current step
        period. Every sample counts once.
        """
        st = self.settings
        assert p.t_end_s is not None
        t = np.asarray(self._t)
        tp = p.t_prev_contact_s
        if tp is not None and not 60.0 / st.max_step_rate_spm <= p.t_contact_s - tp <= 60.0 / st.min_step_rate_spm:
            tp = None
        start = max(self._owned_until_s, tp if tp is not None else p.t_contact_s)
        lo = int(np.searchsorted(t, start, side="right" if start == self._owned_until_s else "left"))
        hi = int(np.searchsorted(t, p.t_end_s, side="right"))
        self._owned_until_s = max(self._owned_until_s, p.t_end_s)
        if hi <= lo:
            return p.side, np.zeros(0), np.zeros(0)
        tt = t[lo:hi]
        theta = np.asarray([v[C_THETA] for v in self._sig[lo:hi]])
        ok = np.isfinite(theta)
        other = "left" if p.side == "right" else "right"
        if tp is not None:
            phase = np.where(tt < p.t_contact_s, BASE[other] + 0.5 * (tt - tp) / (p.t_contact_s - tp),
                             BASE[p.side] + 0.5 * (tt - p.t_contact_s) / period)
        else:
            phase = BASE[p.side] + 0.5 * (tt - p.t_contact_s) / period
            ok &= tt >= p.t_contact_s
        return p.side, phase[ok], theta[ok]

    # ------------------------------------------------------------------ housekeeping
    def _trim(self) -> None:
        keep_from = self._t[-1] - self.settings.buffer_s
        drop = 0
        while drop < len(self._t) - 1 and self._t[drop] < keep_from and self._base + drop < self._cursor - 1:
            drop += 1
        if drop > 256:
            del self._t[:drop], self._sig[:drop], self._ok[:drop], self._qual[:drop], self._swapped[:drop]
            self._base += drop
            edrop = 0
            while edrop < len(self._eval.t) - 1 and self._eval.t[edrop] < keep_from:
                edrop += 1
            if edrop:
                del self._eval.t[:edrop], self._eval.sig[:edrop]


def _vertex(t: np.ndarray, y: np.ndarray) -> float:
    """Time of the vertex of the parabola through three points (the middle one when it is not a maximum)."""
    t1, t2, t3 = (float(v) for v in t)
    y1, y2, y3 = (float(v) for v in y)
    denom = (t1 - t2) * (t1 - t3) * (t2 - t3)
    a = (t3 * (y2 - y1) + t2 * (y1 - y3) + t1 * (y3 - y2)) / denom
    b = (t3 * t3 * (y1 - y2) + t2 * t2 * (y3 - y1) + t1 * t1 * (y2 - y3)) / denom
    return float(min(max(-b / (2 * a), t1), t3)) if a < 0 else t2


def _mean_or_none(values: np.ndarray) -> float | None:
    ok = np.isfinite(values)
    if ok.sum() == 0 or ok.mean() < 0.5:
        return None
    return float(np.mean(values[ok]))


def analyze_track(
    t_s: np.ndarray, xy: np.ndarray, score: np.ndarray, settings: AnalyzerSettings | None = None
) -> list[Step]:
    """Batch analysis: literally the streaming analyzer fed one sample at a time."""
    analyzer = GaitAnalyzer(settings)
    steps: list[Step] = []
    for i in range(len(t_s)):
        steps.extend(analyzer.update(float(t_s[i]), xy[i], score[i]))
    steps.extend(analyzer.finish())
    return steps
