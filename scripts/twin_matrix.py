#!/usr/bin/env python3
"""The rendered-runner matrix: subjects x distances x frame rates, each through every pose model.

Renders Fukuchi 2017 treadmill runs with ``gait-twin`` (posterior view, treadmill), runs each video
through each pose model with ``gait-station pose --no-pelvis-line`` (the model's own keypoints), adds the
pelvis line read from the picture (``station.pose.pelvis``, the station's default: ``gait-station pose``),
validates every track against the render's truth with ``gait-station validate`` (the error table and the
per-frame pose-model report; the projected true joints too, for the analysis alone), and writes the table
between the markers of ``docs/validation.md``. At 3 m and 30 fps it also splits each excursion error
into the part from the hip line and the part from the timing the model's keypoints give. Renders, pose
tracks and validation JSON are cached under ``--renders`` (outside the repository); a run picks up where
the last one stopped.

    nohup nice -n 10 .venv/bin/python scripts/twin_matrix.py > matrix.log 2>&1 &
    .venv/bin/python scripts/twin_matrix.py --cached-only         # the table from what is cached

Render settings (see docs/validation.md for why): 540x960, 2 sub-frames, the whole recording
(30 s) at 30 fps, the first 15 s at 60 fps; everything else is gait-twin's default (the Pi camera's
field of view, gym light, tights, sensor noise, H.264 at the Pi camera's bitrate for the size).
One extra render, s01 at 3 m and 30 fps at gait-twin's defaults (720x1280, 4 sub-frames), checks
that the smaller frame changes nothing the models see.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MOCAP = ROOT.parent / "shared" / "data" / "mocap" / "fukuchi2017"
DOC = ROOT / "docs" / "validation.md"
BEGIN, END = "<!-- matrix:begin (scripts/twin_matrix.py writes this part) -->", "<!-- matrix:end -->"

SUBJECTS = {  # name -> (markers, static, forces)
    "s01": ("RBDS001runT25markers.txt", "RBDS001static.txt", "RBDS001runT25forces.txt"),
    "s02": ("RBDS002runT25markers.txt", "RBDS002static.txt", "RBDS002runT25forces.txt"),
    "s32": ("RBDS032runT35markers.txt", "RBDS032static.txt", None),
}
MODELS = ("movenet-lightning-int8", "blazepose-lite", "blazepose-full", "blazepose-heavy")
SECONDS = {30: None, 60: 15.0}  # None: the whole recording

log = logging.getLogger("twin_matrix")


@dataclass(frozen=True)
class Variant:
    subject: str
    distance_m: float
    fps: int
    size: str = "540x960"
    subframes: int = 2
    extra: tuple[str, ...] = ()  # more gait-twin render options (the robustness renders)
    length_s: float | None = None  # None: SECONDS for the frame rate

    @property
    def name(self) -> str:
        tail = "".join(f"_{a.lstrip('-')}" for a in self.extra)
        length = f"_{self.length_s:g}s" if self.length_s else ""
        return f"{self.subject}_{self.distance_m:g}m_{self.fps}fps_{self.size}_sf{self.subframes}{length}{tail}"

    @property
    def seconds(self) -> float | None:
        return self.length_s or SECONDS[self.fps]


#: clothing, colours (seed) and light other than the matrix's, on 12 s of subject 2 at 3 m and 30 fps
ROBUSTNESS = (("--clothing", "shorts", "--seed", "3"), ("--seed", "5"), ("--clothing", "shorts", "--seed", "11"),
              ("--lighting", "window"), ("--lighting", "dim"), ("--lighting", "outdoor"))


def variants(subjects: list[str], distances: list[float], fps_list: list[int], resolution_check: bool) -> list[Variant]:
    """In the order worth having first: 3 m and 30 fps for every subject, then the rest."""
    out = [Variant(s, d, f) for f in fps_list for d in distances for s in subjects]
    out.sort(key=lambda v: (v.fps != 30 or v.distance_m != 3.0, v.fps, v.distance_m))
    if resolution_check and "s01" in subjects:
        out.insert(len(subjects), Variant("s01", 3.0, 30, "720x1280", 4))
    return out


def _run(cmd: list[str], log_path: Path) -> None:
    with log_path.open("a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} {cmd[1]} failed (exit {r.returncode}); see {log_path}")


def render(v: Variant, folder: Path) -> tuple[Path, Path]:
    """The video and its truth (with the true keypoints beside it), rendered unless cached."""
    folder.mkdir(parents=True, exist_ok=True)
    video, truth, true_kp = folder / "video.mp4", folder / "truth.json", folder / "true.csv"
    if video.exists() and truth.exists() and true_kp.exists():
        return video, truth
    markers, static, forces = SUBJECTS[v.subject]
    cmd = [str(BIN / "gait-twin"), "render", str(MOCAP / markers), str(MOCAP / static), "-o", str(video),
           "--truth", str(truth), "--keypoints", str(true_kp), "--fps", str(v.fps), "--distance-m", f"{v.distance_m:g}",
           "--size", v.size, "--subframes", str(v.subframes)]
    if forces:
        cmd += ["--forces", str(MOCAP / forces)]
    if v.seconds:
        cmd += ["--seconds", f"{v.seconds:g}"]
    cmd += list(v.extra)
    t = time.perf_counter()
    truth.unlink(missing_ok=True)
    _run(cmd, folder / "render.log")
    log.info("%s: rendered in %.0f s", v.name, time.perf_counter() - t)
    return video, truth


def raw_track(v: Variant, folder: Path, video: Path, model: str) -> Path:
    """The model's own keypoints (``gait-station pose --no-pelvis-line``), cached."""
    track = folder / f"{model}.raw.pose.csv"
    if not track.exists():
        tmp = track.with_suffix(".part.csv")
        t = time.perf_counter()
        _run([str(BIN / "gait-station"), "pose", str(video), "-o", str(tmp), "--model", model, "--no-pelvis-line"],
             folder / "pose.log")
        tmp.replace(track)
        log.info("%s: %s poses in %.0f s", v.name, model, time.perf_counter() - t)
    return track


def _code_version(path: Path) -> str:
    """A hash of the module's code alone: its comments and docstrings can change without a new version."""
    import ast
    import hashlib

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return hashlib.sha1(ast.dump(tree).encode()).hexdigest()


def pelvis_track(raw: Path, video: Path) -> Path:
    """The same keypoints with the pelvis line read from the picture (station.pose.pelvis), cached per version.

    The refinement does not feed back into the model's tracking, so running it over the decoded frames and
    the raw track is the computation ``gait-station pose --pelvis-line`` does, without
    running the model again. The track CSV rounds the model's keypoints to 0.01 px, which moves single
    readings slightly (docs/validation.md compares the two on one render).
    """

    out = raw.with_name(raw.name.replace(".raw.", ".pelvis."))
    stamp = out.with_suffix(".version")
    version = _code_version(ROOT / "station" / "pose" / "pelvis.py")
    if out.exists() and stamp.exists() and stamp.read_text() == version and out.stat().st_mtime >= raw.stat().st_mtime:
        return out
    sys.path.insert(0, str(ROOT))
    from station.camera.video import VideoFileSource
    from station.keypoints import Pose, TrackWriter, iter_track_csv
    from station.pose.pelvis import PelvisLine

    line = PelvisLine()
    tmp = out.with_suffix(".part.csv")
    with VideoFileSource(video) as source, TrackWriter(tmp) as writer:
        for frame, pose in zip(source, iter_track_csv(raw), strict=True):
            pose = Pose(frame.t_s, pose.xy, pose.score, frame.size)
            writer.write(line.refine(frame.image, pose))
    tmp.replace(out)
    stamp.write_text(version)
    return out


def validate(v: Variant, track: Path, truth: Path) -> dict:
    out = subprocess.run([str(BIN / "gait-station"), "validate", str(track), str(truth), "--format", "json",
                          "--camera-roll-deg", "0", "--camera-distance-m", f"{v.distance_m:g}",
                          "--true-keypoints", str(truth.with_name("true.csv"))],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"validate {track}: {out.stderr.strip()}")
    result = json.loads(out.stdout)
    track.with_suffix(".validate.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def mixed_track(timing: Path, hips: Path, out: Path) -> Path:
    """``timing``'s keypoints with the hip line's angle of ``hips`` (about ``timing``'s own hip midpoint)."""
    sys.path.insert(0, str(ROOT))
    from station.keypoint_validation import image_obliquity_deg
    from station.keypoints import Pose, read_track_csv, write_track_csv

    a, b = read_track_csv(timing), read_track_csv(hips)
    theta = np.radians(image_obliquity_deg(b.xy[:, 11], b.xy[:, 12]))
    poses = []
    for i in range(min(len(a.t_s), len(b.t_s))):
        xy = a.xy[i].copy()
        mid, half = (xy[11] + xy[12]) / 2, float(np.hypot(*(xy[12] - xy[11]))) / 2
        along = np.array([np.cos(theta[i]), -np.sin(theta[i])]) * half
        xy[11], xy[12] = mid - along, mid + along
        poses.append(Pose(float(a.t_s[i]), xy, a.score[i]))
    write_track_csv(out, poses)
    return out


def with_parts(base: Path, donor: Path, parts: tuple[int, ...], out: Path) -> Path:
    """``base``'s keypoints with ``parts`` (and their scores) taken from ``donor``, frame by frame."""
    sys.path.insert(0, str(ROOT))
    from station.keypoints import Pose, read_track_csv, write_track_csv

    a, b = read_track_csv(base), read_track_csv(donor)
    poses = []
    for i in range(min(len(a.t_s), len(b.t_s))):
        xy, score = a.xy[i].copy(), a.score[i].copy()
        xy[list(parts)], score[list(parts)] = b.xy[i, list(parts)], b.score[i, list(parts)]
        poses.append(Pose(float(a.t_s[i]), xy, score))
    write_track_csv(out, poses)
    return out


# -- the table ------------------------------------------------------------------------------------------------

# issue 9's limits for "the analysis holds through a pose model"
LIMITS = {"recall": 0.95, "precision": 0.95, "side": 0.99, "contact_s": 0.040, "excursion_deg": 0.75,
          "cadence_spm": 1.0}


def checks(r: dict) -> dict[str, bool]:
    exc = r["drop_excursion_error_deg"]
    return {
        "steps": r["recall"] >= LIMITS["recall"] and r["precision"] >= LIMITS["precision"],
        "side": (r["side_accuracy"] or 0.0) >= LIMITS["side"],
        "contact": r["contact_error_median_s"] is not None and r["contact_error_median_s"] <= LIMITS["contact_s"],
        "excursion": all(exc.get(k) is not None and abs(exc[k]) <= LIMITS["excursion_deg"] for k in ("left", "right")),
        "cadence": r["cadence_error_spm"] is not None and abs(r["cadence_error_spm"]) <= LIMITS["cadence_spm"],
    }


def _f(v: float | None, fmt: str, scale: float = 1.0) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v * scale, fmt)


def row(v: Variant, label: str, r: dict) -> str:
    kp = r.get("keypoints") or {}
    hips = [kp.get("joints", {}).get(k, {}) for k in ("left_hip", "right_hip")]
    exc, tru, peak = r["drop_excursion_error_deg"], r["drop_excursion_truth_deg"], r["drop_peak_error_deg"]
    mark = {k: ("" if ok else " ✗") for k, ok in checks(r).items()}
    size = "" if (v.size, v.subframes) == ("540x960", 2) else f" ({v.size}, {v.subframes} sub-frames)"
    cells = [
        v.subject, f"{v.distance_m:g} m", f"{v.fps}", label + size,
        f"{r['matched']}/{r['truth_steps']}/{r['detected_steps']}",
        f"{_f(r['recall'], '.0f', 100)} / {_f(r['precision'], '.0f', 100)}{mark['steps']}",
        f"{_f(r['side_accuracy'], '.0f', 100)}{mark['side']}",
        f"{_f(r['contact_error_median_s'], '.0f', 1000)} ({_f(r['contact_bias_s'], '+.0f', 1000)}){mark['contact']}",
        f"{_f(tru.get('left'), '.2f')} / {_f(tru.get('right'), '.2f')}",
        f"{_f(exc.get('left'), '+.2f')} / {_f(exc.get('right'), '+.2f')}{mark['excursion']}",
        f"{_f(peak.get('left'), '+.2f')} / {_f(peak.get('right'), '+.2f')}",
        f"{_f(r['cadence_error_spm'], '+.2f')}{mark['cadence']}",
        f"{_f(hips[0].get('median_hip_width'), '.0f', 100)} / {_f(hips[1].get('median_hip_width'), '.0f', 100)}",
        f"{_f(kp.get('obliquity_bias_deg'), '+.1f')}",
        f"{_f(kp.get('obliquity_sd_deg'), '.1f')}",
        f"{_f(kp.get('obliquity_stride_locked_share'), '.0f', 100)} % "
        f"({_f(kp.get('obliquity_stride_locked_deg'), '.2f')})",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| subject | distance | fps | keypoints | matched / truth / detected steps | recall / precision % | side % "
    "| contact median (bias) ms | truth excursion L / R ° | excursion error L / R ° | peak error L / R ° "
    "| cadence error spm | hips: median error, % of hip width L / R | hip line error: bias ° | SD ° "
    "| stride-locked share (RMS °) |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def table(results: list[tuple[Variant, str, dict]]) -> str:
    lines = [HEADER]
    lines += [row(v, label, r) for v, label, r in results]
    scored = [(v, label, r) for v, label, r in results if label != "true joints"]
    failed = sum(not all(checks(r).values()) for _, _, r in scored)
    lines.append("")
    lines.append(f"{len(scored)} pose-model rows, {failed} miss at least one of issue 9's limits (✗: recall or "
                 "precision < 95 %, side < 99 %, contact median > 40 ms, a side's mean excursion off by more than "
                 "0.75°, cadence off by more than 1 step/min; the peak is shown, not judged).")
    return "\n".join(lines)


def split_table(rows: list[tuple[str, str, dict, dict, dict, dict]]) -> str:
    """Where a side's excursion error comes from: the hip line, or the rest of the model's keypoints (timing)."""
    lines = ["| subject | keypoints | as run: excursion error L / R ° | the model's hip line on the true joints "
             "| the true hip line on the model's keypoints | the true joints with the model's ankles |",
             "|---|---|---|---|---|---|"]
    for subject, label, *parts in rows:
        cells = [subject, label]
        for r in parts:
            e = r["drop_excursion_error_deg"]
            cells.append(f"{_f(e.get('left'), '+.2f')} / {_f(e.get('right'), '+.2f')}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def robust_table(rows: list[tuple[Variant, dict, dict]]) -> str:
    lines = ["| render options | hip line error (bias °, SD °, stride-locked share): model | with the pelvis line "
             "| excursion error L / R °: model | with the pelvis line |", "|---|---|---|---|---|"]
    for v, raw, ref in rows:
        cells = [" ".join(v.extra)]
        for r in (raw, ref):
            k = r.get("keypoints") or {}
            cells.append(f"{_f(k.get('obliquity_bias_deg'), '+.1f')}, {_f(k.get('obliquity_sd_deg'), '.1f')}, "
                         f"{_f(k.get('obliquity_stride_locked_share'), '.0f', 100)} %")
        for r in (raw, ref):
            e = r["drop_excursion_error_deg"]
            cells.append(f"{_f(e.get('left'), '+.2f')} / {_f(e.get('right'), '+.2f')}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_doc(text: str, doc: Path) -> None:
    fresh = f"# Rendered runners through the pose models\n\n{BEGIN}\n{END}\n"
    body = doc.read_text(encoding="utf-8") if doc.exists() else fresh
    if BEGIN not in body or END not in body:
        body = body.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    head, rest = body.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")


def figure(folder: Path, model: str, frames: list[int], out: Path) -> None:
    """Crops of a render around the pelvis: the true hip line (red), the model's (magenta), the pelvis line (cyan)."""
    import cv2

    sys.path.insert(0, str(ROOT))
    from station.camera.video import VideoFileSource
    from station.keypoints import read_track_csv

    true, raw = read_track_csv(folder / "true.csv"), read_track_csv(folder / f"{model}.raw.pose.csv")
    ref = read_track_csv(folder / f"{model}.pelvis.pose.csv")
    tiles = []
    with VideoFileSource(folder / "video.mp4") as source:
        for k, frame in enumerate(source):
            if k not in frames:
                continue
            mid = true.xy[k, 11:13].mean(axis=0)
            half = 1.3 * float(np.hypot(*(true.xy[k, 6] - true.xy[k, 5])))
            x0, y0 = int(mid[0] - half / 2), int(mid[1] - 0.65 * half)
            crop = np.ascontiguousarray(frame.image[y0:y0 + int(half), x0:x0 + int(half)])
            zoom = 240 / crop.shape[1]
            crop = cv2.resize(crop, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
            for track, colour in ((true, (230, 30, 30)), (raw, (230, 0, 230)), (ref, (0, 230, 230))):
                a, b = ((track.xy[k, j] - (x0, y0)) * zoom for j in (11, 12))
                cv2.line(crop, tuple(int(v) for v in a), tuple(int(v) for v in b), colour, 2, cv2.LINE_AA)
            tiles.append(crop)
            if len(tiles) == len(frames):
                break
    h = min(t.shape[0] for t in tiles)
    cv2.imwrite(str(out), cv2.cvtColor(np.hstack([t[:h] for t in tiles]), cv2.COLOR_RGB2BGR))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--renders", type=Path, default=Path(os.environ.get("GAIT_TWIN_RENDERS", ROOT.parent / "renders")),
                   help="where renders, pose tracks and results are cached: outside the repository, by default "
                        "../renders beside it (like ../shared)")
    p.add_argument("--subjects", default="s01,s02,s32")
    p.add_argument("--distances", default="2,3,4", help="metres behind the runner")
    p.add_argument("--fps", default="30,60")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--no-resolution-check", action="store_true", help="skip the 720x1280 render of s01")
    p.add_argument("--no-robustness", action="store_true",
                   help="skip the renders of subject 2 in other clothing, colours and light")
    p.add_argument("--render-only", action="store_true")
    p.add_argument("--cached-only", action="store_true", help="render and run no model: the table from the cache")
    p.add_argument("--doc", type=Path, default=DOC)
    p.add_argument("--figure", metavar="PNG", type=Path, default=None,
                   help="only draw crops of s01 at 3 m, 30 fps (true, MoveNet's and the pelvis hip lines) to PNG")
    a = p.parse_args()
    if a.figure is not None:
        figure(a.renders / Variant("s01", 3.0, 30).name, MODELS[0], [292, 298, 304], a.figure)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    vs = variants(a.subjects.split(","), [float(d) for d in a.distances.split(",")],
                  [int(f) for f in a.fps.split(",")], not a.no_resolution_check)
    models = a.models.split(",")
    results: list[tuple[Variant, str, dict]] = []
    split: list[tuple[str, str, dict, dict, dict, dict]] = []
    robust: list[tuple[Variant, dict, dict]] = []
    for v in vs:
        folder = a.renders / v.name
        video, truth, true_kp = folder / "video.mp4", folder / "truth.json", folder / "true.csv"
        try:
            if not a.cached_only:
                render(v, folder)
            if a.render_only or not truth.exists():
                continue
            results.append((v, "true joints", validate(v, true_kp, truth)))
            for m in models:
                raw = folder / f"{m}.raw.pose.csv"
                if not a.cached_only:
                    raw = raw_track(v, folder, video, m)
                if not raw.exists():
                    continue
                ref = pelvis_track(raw, video)
                results.append((v, m, validate(v, raw, truth)))
                results.append((v, f"{m} + pelvis line", validate(v, ref, truth)))
                if (v.distance_m, v.fps, v.size) == (3.0, 30, "540x960"):
                    hip_only = validate(v, mixed_track(true_kp, ref, folder / f"{m}.hips-on-true.csv"), truth)
                    timing = validate(v, mixed_track(raw, true_kp, folder / f"{m}.true-hips.csv"), truth)
                    raw_hips = validate(v, mixed_track(true_kp, raw, folder / f"{m}.raw-hips-on-true.csv"), truth)
                    ankles = validate(v, with_parts(true_kp, raw, (15, 16), folder / f"{m}.ankles-on-true.csv"),
                                      truth)
                    split.append((v.subject, m, results[-2][2], raw_hips, timing, ankles))
                    split.append((v.subject, f"{m} + pelvis line", results[-1][2], hip_only, timing, ankles))
        except RuntimeError as exc:
            log.error("%s", exc)
    robustness = [] if a.no_robustness else [Variant("s02", 3.0, 30, extra=e, length_s=12.0) for e in ROBUSTNESS]
    for v in robustness:
        folder = a.renders / v.name
        try:
            if not a.cached_only:
                render(v, folder)
                raw_track(v, folder, folder / "video.mp4", MODELS[0])
            raw = folder / f"{MODELS[0]}.raw.pose.csv"
            if raw.exists() and (folder / "truth.json").exists():
                ref = pelvis_track(raw, folder / "video.mp4")
                robust.append((v, validate(v, raw, folder / "truth.json"), validate(v, ref, folder / "truth.json")))
        except RuntimeError as exc:
            log.error("%s", exc)
    if results:
        results.sort(key=lambda x: (x[0].subject, x[0].distance_m, x[0].fps, x[0].size != "540x960"))
        text = table(results)
        if split:
            text += ("\n\n**Where the excursion error comes from** (3 m, 30 fps): the same analysis on the true "
                     "joints with only the hip line's angle taken from the model; on the model's keypoints with only "
                     "the hip line's angle taken from the truth; on the true joints with only the ankles (which time "
                     "the contacts) taken from the model.\n\n" + split_table(split))
        if robust:
            text += ("\n\n**Other clothing, colours and light** (subject 2, 3 m, 30 fps, 12 s, "
                     f"{MODELS[0]}):\n\n" + robust_table(robust))
        write_doc(text, a.doc)
        log.info("%d rows written to %s", len(results), a.doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
