"""Fukuchi et al. (2017) treadmill motion capture: read, fit, find the contacts, compute the truth.

File layouts (tab-separated, a ``Time`` column, then ``<marker>X``, ``Y``, ``Z`` in mm; X forward,
Y up, Z to the right): RBDS001/RBDS002 keep only the running markers in the running file, RBDS032
adds the static-only markers (all empty while running) and an extra marker, and leaves cells
empty where a marker was not seen. Markers are read by name, empty cells are NaN, and the rigid
fits use whichever markers of a cluster a frame has (at least three), as ``mocap_track.py`` does.

Truth, as ``../shared/tools/mocap_track.py`` defines it: hip joint centres from the static trial
(Harrington et al. 2007) carried by a rigid fit of the pelvis cluster; obliquity
θ = atan2(Y_R − Y_L, Z_R − Z_L) (positive when the right hip is higher); steps from the force
plate (Fy > 50 N) or, without one, from the lowest foot point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twin.errors import InputError, MissingFileError

MARKER_RATE_HZ = 150.0  # the Time column is rounded to ms; the markers are sampled at 150 Hz
FORCE_RATE_HZ = 300.0

PELVIS = ("R.ASIS", "L.ASIS", "R.PSIS", "L.PSIS", "R.Iliac.Crest", "L.Iliac.Crest")


def thigh_cluster(s: str) -> tuple[str, ...]:
    return tuple(f"{s}.Thigh.{a}.{b}" for a in ("Top", "Bottom") for b in ("Lateral", "Medial"))


def shank_cluster(s: str) -> tuple[str, ...]:
    return tuple(f"{s}.Shank.{a}.{b}" for a in ("Top", "Bottom") for b in ("Lateral", "Medial"))


def foot_cluster(s: str) -> tuple[str, ...]:
    return (f"{s}.Heel.Top", f"{s}.Heel.Bottom", f"{s}.Heel.Lateral", f"{s}.MT1", f"{s}.MT5")


# Each cluster needs at least 3 of its markers in both trials. The running trial must also have the
# foot markers that time the steps; the static trial the ASIS and PSIS (hip centres), the femoral
# epicondyles and malleoli (knee and ankle centres) and the metatarsal heads (foot direction).
FOOT_POINTS = tuple(f"{s}.{m}" for s in "RL" for m in ("Heel.Bottom", "MT1", "MT5"))
JOINT_MARKERS = tuple(f"{s}.{m}" for s in "RL" for m in ("Knee", "Knee.Medial", "Ankle", "Ankle.Medial"))
RUNNING_MARKERS = FOOT_POINTS
STATIC_MARKERS = ("R.ASIS", "L.ASIS", "R.PSIS", "L.PSIS") + JOINT_MARKERS + FOOT_POINTS
CLUSTER_MIN_MARKERS = 3


@dataclass(frozen=True)
class MarkerFile:
    """One Fukuchi marker file: ``data[:, k]`` is column ``names[k]``; positions in metres."""

    path: Path
    names: tuple[str, ...]
    data: np.ndarray

    def has(self, marker: str) -> bool:
        i = self._index(marker)
        return i is not None and bool(np.isfinite(self.data[:, i:i + 3]).all(1).any())

    def _index(self, marker: str) -> int | None:
        try:
            i = self.names.index(marker + "X")
        except ValueError:
            return None
        return i if self.names[i + 1:i + 3] == (marker + "Y", marker + "Z") else None

    def marker(self, name: str) -> np.ndarray:
        """T x 3 positions in metres (NaN where not seen)."""
        i = self._index(name)
        if i is None:
            raise InputError(f"{self.path.name}: no marker {name}")
        return self.data[:, i:i + 3] / 1000.0

    def mean(self, name: str) -> np.ndarray:
        return np.nanmean(self.marker(name), axis=0)

    @property
    def frames(self) -> int:
        return int(self.data.shape[0])


def _read_table(path: Path, what: str) -> tuple[tuple[str, ...], np.ndarray]:
    if not path.exists():
        raise MissingFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a {what} file")
    try:
        with path.open(encoding="utf-8") as f:
            header = tuple(f.readline().rstrip("\r\n").split("\t"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a Fukuchi {what} file ({exc.__class__.__name__})") from None
    if not header or header[0] != "Time" or len(header) < 2:
        raise InputError(f"{path}: not a Fukuchi {what} file (no tab-separated header starting with Time)")
    try:
        data = np.genfromtxt(path, skip_header=1, delimiter="\t", dtype=np.float64, invalid_raise=True)
    except ValueError as exc:
        raise InputError(f"{path}: malformed {what} file ({str(exc).splitlines()[0][:80]})") from None
    data = np.atleast_2d(data)
    if data.size == 0 or data.shape[1] != len(header):
        raise InputError(f"{path}: rows do not match the header's {len(header)} columns")
    return header, data


def read_markers(path: str | Path, required: tuple[str, ...], role: str) -> MarkerFile:
    """Read a marker file and check that it has every ``required`` marker (``role`` names it in errors)."""
    path = Path(path)
    names, data = _read_table(path, "marker")
    mf = MarkerFile(path=path, names=names, data=data)
    missing = [m for m in required if not mf.has(m)]
    if missing:
        what = "the epicondyle and malleolus markers" if set(missing) & set(JOINT_MARKERS) else "markers"
        raise InputError(f"{path.name}: {role} lacks {what} {', '.join(missing[:6])}"
                         + (f" and {len(missing) - 6} more" if len(missing) > 6 else ""))
    return mf


def read_forces(path: str | Path, marker_frames: int) -> np.ndarray:
    """Vertical ground reaction force Fy (N) at 300 Hz; must cover the marker recording sample for sample."""
    path = Path(path)
    names, data = _read_table(path, "force")
    if "Fy" not in names:
        raise InputError(f"{path.name}: force file has no Fy column")
    expected = int(round(marker_frames * FORCE_RATE_HZ / MARKER_RATE_HZ))
    if abs(data.shape[0] - expected) > 2:
        raise InputError(f"{path.name}: force file has {data.shape[0]} samples ({data.shape[0] / FORCE_RATE_HZ:.2f} s "
                         f"at 300 Hz); the markers need {expected} ({marker_frames / MARKER_RATE_HZ:.2f} s)")
    fy = data[:, names.index("Fy")]
    if not np.isfinite(fy).all():
        raise InputError(f"{path.name}: force file has empty or non-numeric Fy samples")
    return fy


def kabsch(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rigid R, t with R @ src_i + t ≈ dst_i. ``src`` K x 3; ``dst`` K x 3 or T x K x 3 (batched)."""
    batched = dst.ndim == 3
    d = dst if batched else dst[None]
    cs = src.mean(0)
    cd = d.mean(1)
    h = np.einsum("ki,tkj->tij", src - cs, d - cd[:, None, :])
    u, _, vt = np.linalg.svd(h)
    sign = np.sign(np.linalg.det(np.einsum("tji,tkj->tik", vt, u)))
    dm = np.zeros((len(d), 3, 3))
    dm[:, 0, 0] = dm[:, 1, 1] = 1.0
    dm[:, 2, 2] = sign
    r = np.einsum("tji,tjk,tlk->til", vt, dm, u)
    t = cd - np.einsum("tij,j->ti", r, cs)
    return (r, t) if batched else (r[0], t[0])


@dataclass(frozen=True)
class RigidTrack:
    """Per-frame rigid transforms from static-trial coordinates to running coordinates (NaN when unfit)."""

    rotation: np.ndarray  # T x 3 x 3
    translation: np.ndarray  # T x 3

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Carry static-trial points (N x 3) through the running trial: T x N x 3."""
        return np.einsum("tij,nj->tni", self.rotation, points) + self.translation[:, None, :]


def usable_cluster(run: MarkerFile, static: MarkerFile, cluster: tuple[str, ...], what: str) -> tuple[str, ...]:
    """The cluster's markers present in both trials; a one-line error when fewer than 3 are."""
    usable = tuple(m for m in cluster if run.has(m) and static.has(m))
    if len(usable) < CLUSTER_MIN_MARKERS:
        missing = [m for m in cluster if m not in usable]
        in_run = [m for m in missing if not run.has(m)]
        where, name = ("running trial", run.path.name) if in_run else ("static trial", static.path.name)
        raise InputError(f"{name}: {where} lacks markers {', '.join(in_run or missing)} "
                         f"(the {what} needs {CLUSTER_MIN_MARKERS} of {', '.join(cluster)})")
    return usable


def fit_cluster(run: MarkerFile, static: MarkerFile, cluster: tuple[str, ...]) -> RigidTrack:
    """Rigid fit of a marker cluster, static → running, frame by frame (at least 3 markers seen)."""
    ref = np.array([static.mean(c) for c in cluster])
    dyn = np.stack([run.marker(c) for c in cluster], axis=1)  # T x K x 3
    seen = np.isfinite(dyn).all(2)
    rot = np.full((run.frames, 3, 3), np.nan)
    tr = np.full((run.frames, 3), np.nan)
    full = seen.all(1)
    if full.any():
        rot[full], tr[full] = kabsch(ref, dyn[full])
    for k in np.where(~full & (seen.sum(1) >= 3))[0]:
        ok = seen[k]
        rot[k], tr[k] = kabsch(ref[ok], dyn[k][ok])
    return RigidTrack(rot, tr)


def hip_centres(static: MarkerFile) -> tuple[np.ndarray, np.ndarray]:
    """Harrington et al. (2007) hip joint centres in the static trial: (right, left)."""
    ra, la = static.mean("R.ASIS"), static.mean("L.ASIS")
    rp, lp = static.mean("R.PSIS"), static.mean("L.PSIS")
    o = (ra + la) / 2
    z = (ra - la) / np.linalg.norm(ra - la)
    back = (rp + lp) / 2
    x = o - back
    x -= z * (x @ z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    pw, pd = np.linalg.norm(ra - la), np.linalg.norm(o - back)

    def hjc(side: int) -> np.ndarray:
        return o + x * (-0.24 * pd - 0.0099) + y * (-0.30 * pw - 0.0109) + z * side * (0.33 * pw + 0.0073)

    return hjc(+1), hjc(-1)


def joint_centre(static: MarkerFile, side: str, joint: str) -> np.ndarray:
    """Knee or ankle centre in the static trial: the midpoint of the lateral and medial markers."""
    return (static.mean(f"{side}.{joint}") + static.mean(f"{side}.{joint}.Medial")) / 2


def obliquity_deg(right_hip: np.ndarray, left_hip: np.ndarray) -> np.ndarray:
    """Frontal-plane pelvic obliquity of the hip-joint-centre line, degrees, + when the right hip is higher."""
    return np.degrees(np.arctan2(right_hip[..., 1] - left_hip[..., 1], right_hip[..., 2] - left_hip[..., 2]))


def force_events(fy: np.ndarray, fs: float = FORCE_RATE_HZ, thr: float = 50.0, min_contact_s: float = 0.10,
                 min_flight_s: float = 0.03) -> list[tuple[float, float]]:
    """Stance intervals (s) from the treadmill's vertical force: above ``thr``, short gaps merged."""
    on = (fy > thr).astype(int)
    d = np.diff(on)
    starts, ends = np.where(d == 1)[0] + 1, np.where(d == -1)[0] + 1
    merged: list[list[int]] = []
    for s in starts:
        e = ends[ends > s]
        if not len(e):
            continue
        if merged and (s - merged[-1][1]) / fs < min_flight_s:
            merged[-1][1] = int(e[0])
        else:
            merged.append([int(s), int(e[0])])
    return [(s / fs, e / fs) for s, e in merged if (e - s) / fs >= min_contact_s]


def kinematic_events(t: np.ndarray, right_y: np.ndarray, left_y: np.ndarray, h_thr: float = 0.03,
                     v_thr: float = 0.1, fs: float = MARKER_RATE_HZ) -> list[tuple[float, float, str]]:
    """Stance intervals from the lowest foot point: contact once within ``h_thr`` of the floor and no
    longer falling faster than ``v_thr``; end when it leaves that band (as ``mocap_track.py``)."""
    ev = []
    for side, y in (("right", right_y), ("left", left_y)):
        base = np.nanpercentile(y, 2)
        v = np.gradient(y, 1 / fs)
        near = y < base + h_thr
        k, n = 1, len(y)
        while k < n:
            if near[k] and not near[k - 1]:
                j = k
                while j < n and near[j] and v[j] < -v_thr:
                    j += 1
                e = j
                while e < n and near[e]:
                    e += 1
                if e < n and 0.1 < (e - j) / fs < 0.5:
                    ev.append((float(t[j]), float(t[e]), side))
                k = e
            k += 1
    return sorted(ev)


@dataclass(frozen=True)
class Recording:
    """A running trial fitted to its static trial: everything the posing and the truth need."""

    run: MarkerFile
    static: MarkerFile
    forces: np.ndarray | None
    t_s: np.ndarray  # marker sample times, 150 Hz from 0
    pelvis: RigidTrack
    thigh: dict[str, RigidTrack]  # "R"/"L"
    shank: dict[str, RigidTrack]
    foot: dict[str, RigidTrack]
    hjc_static: dict[str, np.ndarray]  # static-trial joint centres
    kjc_static: dict[str, np.ndarray]
    ajc_static: dict[str, np.ndarray]
    speed_mps: float

    @property
    def hips(self) -> dict[str, np.ndarray]:
        """Hip joint centres through the run (T x 3 each), the pelvis fit of the static HJCs."""
        pts = self.pelvis.apply(np.stack([self.hjc_static["R"], self.hjc_static["L"]]))
        return {"R": pts[:, 0], "L": pts[:, 1]}

    def obliquity_deg(self) -> np.ndarray:
        h = self.hips
        return obliquity_deg(h["R"], h["L"])

    def lowest_foot_y(self) -> dict[str, np.ndarray]:
        return {s: np.nanmin(np.stack([self.run.marker(f"{s}.Heel.Bottom")[:, 1], self.run.marker(f"{s}.MT1")[:, 1],
                                       self.run.marker(f"{s}.MT5")[:, 1]]), 0) for s in "RL"}


def _speed(run: MarkerFile, hint: str) -> float:
    """Belt speed: from the file name (``runT25`` = 2.5 m/s), else from the stance heel's backward speed."""
    m = re.search(r"run[TO](\d)(\d)", hint)
    if m:
        return float(f"{m.group(1)}.{m.group(2)}")
    heel = run.marker("R.Heel.Bottom")
    vx = np.gradient(heel[:, 0], 1 / MARKER_RATE_HZ)
    low = heel[:, 1] < np.nanpercentile(heel[:, 1], 20)
    return float(abs(np.nanmedian(vx[low])))


def load_recording(markers: str | Path, static: str | Path, forces: str | Path | None = None) -> Recording:
    """Read and fit a running trial; one-line :class:`InputError` on anything missing or inconsistent."""
    static_f = read_markers(static, STATIC_MARKERS, "static trial")
    run_f = read_markers(markers, RUNNING_MARKERS, "running trial")
    if run_f.frames < MARKER_RATE_HZ:
        raise InputError(f"{run_f.path.name}: only {run_f.frames} samples; at least 1 s of running is needed")
    fy = read_forces(forces, run_f.frames) if forces is not None else None
    hr, hl = hip_centres(static_f)

    def fit(cluster: tuple[str, ...], what: str) -> RigidTrack:
        return fit_cluster(run_f, static_f, usable_cluster(run_f, static_f, cluster, what))

    rec = Recording(
        run=run_f, static=static_f, forces=fy, t_s=np.arange(run_f.frames) / MARKER_RATE_HZ,
        pelvis=fit(PELVIS, "pelvis cluster"),
        thigh={s: fit(thigh_cluster(s), f"{s} thigh cluster") for s in "RL"},
        shank={s: fit(shank_cluster(s), f"{s} shank cluster") for s in "RL"},
        foot={s: fit(foot_cluster(s), f"{s} foot cluster") for s in "RL"},
        hjc_static={"R": hr, "L": hl},
        kjc_static={s: joint_centre(static_f, s, "Knee") for s in "RL"},
        ajc_static={s: joint_centre(static_f, s, "Ankle") for s in "RL"},
        speed_mps=_speed(run_f, Path(markers).name),
    )
    if np.isnan(rec.pelvis.rotation[:, 0, 0]).mean() > 0.5:
        raise InputError(f"{run_f.path.name}: the pelvis markers are missing in most samples")
    return rec


def truth_steps(rec: Recording, theta_deg: np.ndarray) -> tuple[list[dict], str]:
    """Per-step truth (DESIGN.md's drop definitions) from the contacts and the obliquity θ at 150 Hz."""
    t = rec.t_s
    foot = rec.lowest_foot_y()
    if rec.forces is not None:
        evs = []
        for s, e in force_events(rec.forces):
            k = min(int((s + e) / 2 * MARKER_RATE_HZ), len(t) - 1)
            evs.append((s, e, "right" if foot["R"][k] < foot["L"][k] else "left"))
        source = "force plate (Fy > 50 N)"
    else:
        evs = kinematic_events(t, foot["R"], foot["L"])
        source = "kinematic (lowest foot point within 30 mm of the floor and no longer falling)"
    steps = []
    for s, e, side in evs:
        i, j = int(round(s * MARKER_RATE_HZ)), min(int(round(e * MARKER_RATE_HZ)), len(t) - 1)
        if j <= i + 3 or np.isnan(theta_deg[i:j + 1]).any():
            continue
        drop = theta_deg[i:j + 1] if side == "right" else -theta_deg[i:j + 1]
        k = int(np.argmax(drop))
        steps.append(dict(side=side, t_contact_s=round(s, 4), t_toe_off_s=round(e, 4),
                          t_peak_s=round(float(t[i + k]), 4), drop_excursion_deg=round(float(drop[k] - drop[0]), 3),
                          drop_peak_deg=round(float(drop[k]), 3)))
    return steps, source


def summarize_truth(steps: list[dict]) -> dict:
    """The truth file's summary: steps, cadence over the span of contacts, per-side means."""
    if len(steps) < 2:
        raise InputError("fewer than two steps found in the recording; nothing to render a truth for")
    span = steps[-1]["t_contact_s"] - steps[0]["t_contact_s"]
    summary: dict = {"steps": len(steps), "cadence_spm": round(60 * (len(steps) - 1) / span, 2)}
    for side in ("left", "right"):
        ss = [s for s in steps if s["side"] == side]
        summary[side] = {k: (round(float(np.mean([s[k] for s in ss])), 3) if ss else None)
                         for k in ("drop_excursion_deg", "drop_peak_deg")}
        summary[side]["steps"] = len(ss)
    return summary


def clip_steps(steps: list[dict], t_end_s: float) -> list[dict]:
    """Steps wholly inside [0, t_end_s] (a render shorter than the recording)."""
    return [s for s in steps if s["t_toe_off_s"] <= t_end_s + 1e-9]


def wrap_deg(a: np.ndarray) -> np.ndarray:
    return (a + 180.0) % 360.0 - 180.0


__all__ = [
    "MARKER_RATE_HZ", "MarkerFile", "Recording", "RigidTrack", "clip_steps", "fit_cluster", "force_events",
    "hip_centres", "kabsch", "kinematic_events", "load_recording", "obliquity_deg", "read_forces", "read_markers",
    "summarize_truth", "truth_steps", "wrap_deg",
]
