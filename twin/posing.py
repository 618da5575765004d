"""Pose the MakeHuman body from a fitted recording.

Each segment s moves its rest-pose vertices by ``x' = p_s(t) + Q_s(t) C_s (x - h_s)``: ``h_s`` is the
segment's rest joint (the bone head), ``C_s`` a constant linear map that aligns and scales the mesh's
segment onto the subject's static trial, ``Q_s(t)`` a rotation and ``p_s(t)`` the posed joint.

* Pelvis, thighs, shanks and feet: ``Q_s`` is the rigid fit of the segment's marker cluster (static →
  running), exactly as ``mocap_track.py`` fits it. The pelvis carries the static trial's Harrington hip
  joint centres, so the posed skeleton's hip joints *are* the truth's hip centres. The legs form a
  chain: each thigh hangs from its hip centre, each shank from its knee, each foot from its ankle.
* ``C_s`` maps the mesh's hip line onto the subject's (width), each thigh and shank's joint-to-joint
  axis onto the subject's (length), and everything else by the global scale (stature).
* Trunk: the chest turns against the pelvis (transverse counter-rotation), keeps 30 % of its
  obliquity and leans forward. The lowest spine bone (the rig's spine05, hip-centre height to about
  9 cm above: the ilium and sacrum) moves with the pelvis; the four above share the turn
  progressively. The head stays level and faces the running direction.
* Arms hang from the chest and swing in the sagittal plane opposite the legs: each arm follows the
  other side's thigh angle; the elbows stay flexed about 90° and flex more on the forward swing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from twin.body import SEGMENTS, Body
from twin.errors import InputError
from twin.mocap import Recording, RigidTrack

# trunk and arm rules (the "plausible" counter-rotation and anti-phase swing)
CHEST_COUNTER_YAW = 1.0  # chest yaw deviation = -this x pelvis yaw deviation
CHEST_KEEPS_OBLIQUITY = 0.3  # chest roll = this x pelvis obliquity (the trunk counters the rest)
TRUNK_LEAN_DEG = 7.0  # forward lean of the chest
ARM_ABDUCTION_DEG = 10.0
ARM_SWING_GAIN = 1.2  # shoulder flexion per degree of the other thigh's flexion
ARM_MEAN_DEG = -12.0  # mean shoulder flexion (arms a little behind the trunk)
ELBOW_MEAN_DEG = 90.0
ELBOW_SWING_GAIN = 0.3
# Pelvis width: the subject's ASIS distance against the mesh's, which the mesh has no landmark for; it
# is taken as this share of the mesh's hip breadth (the body's width at hip-centre height), the ratio
# of the ASIS to the greater-trochanter marker distance of subjects 1 and 2 (0.64 and 0.59).
ASIS_PER_HIP_BREADTH = 0.62
PELVIS_WIDTH_SCALE_RANGE = (0.8, 1.3)  # relative to the body's global scale


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _frame(primary: np.ndarray, secondary: np.ndarray, axes: str) -> np.ndarray:
    """Orthonormal frame (columns X, Y, Z) with ``primary`` exact on its axis and ``secondary`` next."""
    p = _unit(primary)
    s = _unit(secondary - p * (secondary @ p))
    cols = {}
    if axes == "yz":  # primary = Y, secondary = Z
        cols = {"y": p, "z": s, "x": np.cross(p, s)}
    elif axes == "zx":  # primary = Z, secondary = X
        cols = {"z": p, "x": s, "y": np.cross(p, s)}
    elif axes == "xy":  # primary = X, secondary = Y
        cols = {"x": p, "y": s, "z": np.cross(p, s)}
    return np.stack([cols["x"], cols["y"], cols["z"]], axis=1)


def _align(subject: np.ndarray, mesh: np.ndarray, scale: tuple[float, float, float]) -> np.ndarray:
    """Linear map taking the mesh frame onto the subject frame with per-axis scale (frame coordinates)."""
    return subject @ np.diag(scale) @ mesh.T


def _rot_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction a to direction b."""
    a, b = _unit(a), _unit(b)
    v = np.cross(a, b)
    c = float(a @ b)
    if np.linalg.norm(v) < 1e-9:
        return np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k * (1.0 / (1.0 + c))


def _rz(deg: np.ndarray) -> np.ndarray:
    """Rotations about the world's Z (right) axis, T x 3 x 3; + turns forward (X) towards up (Y)."""
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    r = np.zeros((len(a), 3, 3))
    r[:, 0, 0] = c
    r[:, 0, 1] = -s
    r[:, 1, 0] = s
    r[:, 1, 1] = c
    r[:, 2, 2] = 1.0
    return r


def _fill_gaps(track: RigidTrack, name: str) -> np.ndarray:
    """Rotations with the frames the fit could not make (fewer than 3 markers) interpolated."""
    rot = track.rotation
    ok = np.isfinite(rot[:, 0, 0])
    if ok.all():
        return rot
    if ok.sum() < 2:
        raise InputError(f"the {name} markers are missing in the whole recording")
    idx = np.arange(len(rot))
    slerp = Slerp(idx[ok], Rotation.from_matrix(rot[ok]))
    out = rot.copy()
    out[~ok] = slerp(np.clip(idx[~ok], idx[ok][0], idx[ok][-1])).as_matrix()
    return out


def _fill_points(p: np.ndarray) -> np.ndarray:
    ok = np.isfinite(p[:, 0])
    if ok.all():
        return p
    idx = np.arange(len(p))
    return np.stack([np.interp(idx, idx[ok], p[ok, c]) for c in range(3)], axis=1)


@dataclass(frozen=True)
class Motion:
    """Segment rotations Q (T x S x 3 x 3) and joints p (T x S x 3) at the marker rate, and the constants."""

    t_s: np.ndarray
    rotation: np.ndarray
    joint: np.ndarray
    align: np.ndarray  # S x 3 x 3, the constant C_s
    rest_joint: np.ndarray  # S x 3, h_s
    scale: float  # global body scale (stature)
    pelvis_width_scale: float  # the pelvis's lateral scale relative to the global one
    stature_m: float

    def sample(self, t_s: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Q and p at any times (linear joints, normalised-lerp rotations between marker samples)."""
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        x = np.clip(t * (len(self.t_s) - 1) / self.t_s[-1], 0, len(self.t_s) - 1)
        i = np.minimum(x.astype(int), len(self.t_s) - 2)
        f = (x - i)[:, None, None]
        p = self.joint[i] * (1 - f) + self.joint[i + 1] * f
        q0 = Rotation.from_matrix(self.rotation[i].reshape(-1, 3, 3)).as_quat()
        q1 = Rotation.from_matrix(self.rotation[i + 1].reshape(-1, 3, 3)).as_quat()
        q1 *= np.sign(np.sum(q0 * q1, axis=1, keepdims=True) + 1e-12)
        ff = np.repeat(f[:, 0, 0], len(SEGMENTS))[:, None]
        q = q0 * (1 - ff) + q1 * ff
        r = Rotation.from_quat(q / np.linalg.norm(q, axis=1, keepdims=True)).as_matrix().reshape(len(t), -1, 3, 3)
        return r, p

    def affine(self, t_s: float | np.ndarray) -> np.ndarray:
        """Skinning matrices (T x S x 3 x 4) at the given times: x' = A x + b."""
        r, p = self.sample(t_s)
        a = np.einsum("tsij,sjk->tsik", r, self.align)
        b = p - np.einsum("tsij,sj->tsi", a, self.rest_joint)
        return np.concatenate([a, b[..., None]], axis=-1)

    def transform_points(self, t_s: float | np.ndarray, seg: str, points: np.ndarray) -> np.ndarray:
        """Rest-pose points rigidly attached to one segment, posed: T x N x 3."""
        m = self.affine(t_s)[:, SEGMENTS.index(seg)]
        return np.einsum("tij,nj->tni", m[..., :3], np.atleast_2d(points)) + m[:, None, :, 3]


def pose_motion(rec: Recording, body: Body, height_m: float | None = None) -> Motion:
    """Fit the body to the subject's static trial and pose it through the whole recording."""
    st = rec.static
    hjc, kjc, ajc = rec.hjc_static, rec.kjc_static, rec.ajc_static
    j = body.joints
    mesh_hip = {"R": j["upperleg01.R"], "L": j["upperleg01.L"]}
    mesh_knee = {"R": j["lowerleg01.R"], "L": j["lowerleg01.L"]}
    mesh_ankle = {"R": j["foot.R"], "L": j["foot.L"]}
    mesh_leg = np.mean([np.linalg.norm(mesh_hip[s] - mesh_knee[s]) + np.linalg.norm(mesh_knee[s] - mesh_ankle[s])
                        for s in "RL"])
    subj_leg = np.mean([np.linalg.norm(hjc[s] - kjc[s]) + np.linalg.norm(kjc[s] - ajc[s]) for s in "RL"])
    g = float(subj_leg / mesh_leg) if height_m is None else float(height_m / body.stature_m)
    if not 0.6 < g < 1.4:
        raise InputError(f"the static trial gives a leg {subj_leg:.2f} m long; not an adult's "
                         "(check the markers' units)")
    fwd, up, right = np.eye(3)
    n_t = len(rec.t_s)
    s_index = {s: i for i, s in enumerate(SEGMENTS)}
    rot = np.zeros((n_t, len(SEGMENTS), 3, 3))
    joint = np.zeros((n_t, len(SEGMENTS), 3))
    align = np.zeros((len(SEGMENTS), 3, 3))
    rest = np.zeros((len(SEGMENTS), 3))

    def put(seg: str, q: np.ndarray, p: np.ndarray, c: np.ndarray, h: np.ndarray) -> None:
        k = s_index[seg]
        rot[:, k], joint[:, k], align[k], rest[k] = q, p, c, h

    # pelvis: its frame from the hip line and the world's forward in the static trial; the mesh's hip-joint
    # midpoint onto the subject's, widened or narrowed to the subject's ASIS distance
    f_subj = _frame(hjc["R"] - hjc["L"], fwd, "zx")
    f_mesh = _frame(mesh_hip["R"] - mesh_hip["L"], fwd, "zx")
    asis = float(np.linalg.norm(st.mean("R.ASIS") - st.mean("L.ASIS")))
    width_scale = float(np.clip(asis / (ASIS_PER_HIP_BREADTH * hip_breadth(body)) / g, *PELVIS_WIDTH_SCALE_RANGE))
    c_pelvis = _align(f_subj, f_mesh, (g, g, g * width_scale))
    q_pelvis = _fill_gaps(rec.pelvis, "pelvis")
    mid_static = (hjc["R"] + hjc["L"]) / 2
    t_pelvis = _fill_points(rec.pelvis.translation)
    mid_mesh = (mesh_hip["R"] + mesh_hip["L"]) / 2
    put("pelvis", q_pelvis, q_pelvis @ mid_static + t_pelvis, c_pelvis, mid_mesh)
    hips = {s: q_pelvis @ hjc[s] + t_pelvis for s in "RL"}
    # the thighs turn about the mesh points the pelvis carries onto the subject's hip centres (MakeHuman's
    # hip joints sit wider than anatomical ones), so pelvis and thighs agree at the joint
    mesh_hip = {s: mid_mesh + np.linalg.solve(c_pelvis, hjc[s] - mid_static) for s in "RL"}

    thigh_angle = {}
    for s in "RL":
        side = 1.0 if s == "R" else -1.0
        # the knee axis, pointing to the body's right, from the epicondyles
        knee_axis = side * (st.mean(f"{s}.Knee") - st.mean(f"{s}.Knee.Medial"))
        f_thigh_s = _frame(hjc[s] - kjc[s], knee_axis, "yz")
        f_thigh_m = _frame(mesh_hip[s] - mesh_knee[s], right, "yz")
        len_thigh = np.linalg.norm(hjc[s] - kjc[s]) / np.linalg.norm(mesh_hip[s] - mesh_knee[s])
        q_thigh = _fill_gaps(rec.thigh[s], f"{s} thigh")
        put(f"thigh.{s}", q_thigh, hips[s], _align(f_thigh_s, f_thigh_m, (g, len_thigh, g)), mesh_hip[s])
        knee = hips[s] + q_thigh @ (kjc[s] - hjc[s])
        f_shank_s = _frame(kjc[s] - ajc[s], knee_axis, "yz")
        f_shank_m = _frame(mesh_knee[s] - mesh_ankle[s], right, "yz")
        len_shank = np.linalg.norm(kjc[s] - ajc[s]) / np.linalg.norm(mesh_knee[s] - mesh_ankle[s])
        q_shank = _fill_gaps(rec.shank[s], f"{s} shank")
        put(f"shank.{s}", q_shank, knee, _align(f_shank_s, f_shank_m, (g, len_shank, g)), mesh_knee[s])
        ankle = knee + q_shank @ (ajc[s] - kjc[s])
        toe = (st.mean(f"{s}.MT1") + st.mean(f"{s}.MT5")) / 2
        f_foot_s = _frame(_horizontal(toe - ajc[s]), up, "xy")
        f_foot_m = _frame(_horizontal(body.tails[f"foot.{s}"] - mesh_ankle[s]), up, "xy")
        q_foot = _fill_gaps(rec.foot[s], f"{s} foot")
        put(f"foot.{s}", q_foot, ankle, _align(f_foot_s, f_foot_m, (g, g, g)), mesh_ankle[s])
        axis = knee - hips[s]
        thigh_angle[s] = np.degrees(np.arctan2(axis[:, 0], -axis[:, 1]))  # + = thigh forward

    # trunk: pelvis orientation (without its scale) split into heading, obliquity and tilt
    pelvis_world = q_pelvis @ (f_subj @ f_mesh.T)
    yaw, roll, _ = Rotation.from_matrix(pelvis_world).as_euler("YXZ", degrees=True).T
    yaw = np.degrees(np.unwrap(np.radians(yaw)))
    heading = float(np.mean(yaw))
    chest_yaw = heading - CHEST_COUNTER_YAW * (yaw - heading)
    chest = Rotation.from_euler("YXZ", np.stack([chest_yaw, CHEST_KEEPS_OBLIQUITY * roll,
                                                 np.full(n_t, -TRUNK_LEAN_DEG)], axis=1), degrees=True)
    head_rot = Rotation.from_euler("YXZ", [heading, 0.0, -3.0], degrees=True)
    pel = Rotation.from_matrix(pelvis_world)
    # spine05 spans the rig's pelvis joint (hip-centre height) to spine-4 about 9 cm above: the ilium and
    # the sacrum, rigid with the pelvis. The lumbar and thoracic bones above share the counter-rotation.
    chain = [("spine05", 0.0), ("spine04", 0.25), ("spine03", 0.5), ("spine02", 0.75), ("spine01", 1.0)]
    p_prev = None
    h_prev = None
    q_prev = None
    pelvis_affine = c_pelvis
    for name, frac in chain:
        q = _slerp(pel, chest, frac)
        h = j[name]
        if p_prev is None:
            p = q_pelvis @ (pelvis_affine @ (h - mid_mesh) + mid_static) + t_pelvis
        else:
            p = p_prev + g * np.einsum("tij,j->ti", q_prev, h - h_prev)
        put(name, q, p, g * np.eye(3), h)
        p_prev, h_prev, q_prev = p, h, q
    q_chest = q_prev
    for name, frac in (("neck01", 0.3), ("neck02", 0.6), ("neck03", 0.85), ("head", 1.0)):
        q = _slerp(chest, Rotation.from_quat(np.repeat(head_rot.as_quat()[None], n_t, 0)), frac)
        h = j[name]
        p = p_prev + g * np.einsum("tij,j->ti", q_prev, h - h_prev)
        put(name, q, p, g * np.eye(3), h)
        p_prev, h_prev, q_prev = p, h, q

    # arms from the chest, swinging with the other side's thigh
    spine01 = s_index["spine01"]
    for s, other in (("R", "L"), ("L", "R")):
        side = 1.0 if s == "R" else -1.0
        swing = thigh_angle[other] - np.mean(thigh_angle[other])
        shoulder_flex = ARM_MEAN_DEG + ARM_SWING_GAIN * swing
        elbow_flex = ELBOW_MEAN_DEG + ELBOW_SWING_GAIN * (shoulder_flex - ARM_MEAN_DEG)
        a = np.radians(ARM_ABDUCTION_DEG)
        hang = np.array([0.0, -np.cos(a), side * np.sin(a)])
        sh, el, wr = j[f"upperarm01.{s}"], j[f"lowerarm01.{s}"], j[f"wrist.{s}"]
        d_upper = _rot_between(el - sh, hang)
        d_fore = _rot_between(wr - el, hang)
        q_upper = q_chest @ _rz(shoulder_flex) @ d_upper
        q_fore = q_chest @ _rz(shoulder_flex + elbow_flex) @ d_fore
        p_sh = joint[:, spine01] + g * np.einsum("tij,j->ti", rot[:, spine01], sh - rest[spine01])
        put(f"upperarm.{s}", q_upper, p_sh, g * np.eye(3), sh)
        p_el = p_sh + g * np.einsum("tij,j->ti", q_upper, el - sh)
        put(f"forearm.{s}", q_fore, p_el, g * np.eye(3), el)

    return Motion(t_s=rec.t_s, rotation=rot, joint=joint, align=align, rest_joint=rest, scale=g,
                  pelvis_width_scale=width_scale, stature_m=g * body.stature_m)


def hip_breadth(body: Body) -> float:
    """The body's width at hip-centre height (the trunk and legs, not the hands hanging beside it)."""
    hip_y = (body.joints["upperleg01.L"][1] + body.joints["upperleg01.R"][1]) / 2
    arms = sum(body.weights[:, SEGMENTS.index(f"{p}.{s}")] for p in ("upperarm", "forearm") for s in "LR")
    band = (np.abs(body.vertices[:, 1] - hip_y) < 0.03) & (arms < 0.01)
    return float(np.ptp(body.vertices[band, 2]))


def _horizontal(v: np.ndarray) -> np.ndarray:
    return np.array([v[0], 0.0, v[2]])


def _slerp(a: Rotation, b: Rotation, frac: float) -> np.ndarray:
    """Per-frame rotation a fraction of the way from a to b (T x 3 x 3)."""
    rel = a.inv() * b
    return (a * Rotation.from_rotvec(rel.as_rotvec() * frac)).as_matrix()


def skin(body: Body, affine: np.ndarray, normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear-blend skinning of the rest vertices and normals with one frame's S x 3 x 4 matrices."""
    m = np.einsum("vs,sij->vij", body.weights, affine)
    v = np.einsum("vij,vj->vi", m[..., :3], body.vertices) + m[..., 3]
    n = np.einsum("vij,vj->vi", m[..., :3], normals)
    return v, _unit(n)
