"""Headless OpenGL rendering of the posed body in a room with a treadmill, or on a running track.

Renderer: moderngl on an EGL context. On a machine without a GPU Mesa serves it with llvmpipe (Debian:
libegl1, libegl-mesa0, libgl1-mesa-dri). The body's vertex buffer is rewritten in place every sub-frame
and drawn with one small shader (a key light, a fill light, sky/ground ambient, a little specular),
and the body's shadow is projected onto the floor along the key light. Edges are smoothed by
averaging sub-frames rendered with sub-pixel shifts (or by multisampling, slower on llvmpipe).
Colours are shaded with a gamma of 2 (squares and square roots: llvmpipe's pow() is slow).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import trimesh

from twin.camera import Camera
from twin.errors import AssetError

EGL_HINT = "apt-get install libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri"

VERTEX_SHADER = """
#version 330
uniform mat4 view_proj;
uniform mat4 model;
in vec3 in_pos;
in vec3 in_norm;
in vec3 in_col;
out vec3 v_norm;
out vec3 v_col;
out vec3 v_pos;
void main() {
    vec4 p = model * vec4(in_pos, 1.0);
    v_pos = p.xyz;
    v_norm = in_norm;
    v_col = in_col;
    gl_Position = view_proj * p;
}
"""

FRAGMENT_SHADER = """
#version 330
uniform vec3 key_dir;
uniform vec3 key_col;
uniform vec3 fill_dir;
uniform vec3 fill_col;
uniform vec3 sky_col;
uniform vec3 ground_col;
uniform vec3 eye;
uniform float shadow;
uniform vec4 shadow_clip;
in vec3 v_norm;
in vec3 v_col;
in vec3 v_pos;
out vec4 f_color;
void main() {
    if (shadow > 0.0) {
        if (v_pos.x < shadow_clip.x || v_pos.x > shadow_clip.y || v_pos.z < shadow_clip.z || v_pos.z > shadow_clip.w)
            discard;
        f_color = vec4(vec3(1.0 - shadow), 1.0);
        return;
    }
    vec3 n = normalize(v_norm);
    vec3 v = normalize(eye - v_pos);
    if (dot(n, v) < 0.0) n = -n;
    vec3 albedo = v_col * v_col;
    float hemi = 0.5 + 0.5 * n.y;
    vec3 light = mix(ground_col, sky_col, hemi) + key_col * max(dot(n, key_dir), 0.0)
                 + fill_col * max(dot(n, fill_dir), 0.0);
    vec3 h = normalize(key_dir + v);
    float sh = max(dot(n, h), 0.0);
    sh = sh * sh; sh = sh * sh; sh = sh * sh; sh = sh * sh;
    vec3 spec = key_col * 0.06 * sh;
    f_color = vec4(sqrt(albedo * light + spec), 1.0);
}
"""


@dataclass(frozen=True)
class Lighting:
    key_dir: tuple[float, float, float]  # towards the light
    key_col: tuple[float, float, float]
    fill_dir: tuple[float, float, float]
    fill_col: tuple[float, float, float]
    sky_col: tuple[float, float, float]
    ground_col: tuple[float, float, float]


LIGHTING = {
    # a gym: ceiling lights ahead and above, bright ambient
    "gym": Lighting((0.3, 0.9, -0.3), (1.6, 1.55, 1.5), (-0.5, 0.4, 0.6), (0.35, 0.35, 0.4),
                    (0.55, 0.55, 0.6), (0.25, 0.24, 0.22)),
    # a window on the runner's right: strong warm side light, dark other side
    "window": Lighting((0.1, 0.5, 0.85), (2.2, 2.0, 1.7), (-0.3, 0.3, -0.9), (0.1, 0.1, 0.12),
                       (0.3, 0.32, 0.36), (0.15, 0.13, 0.12)),
    # a dim room: weak overhead light (the noise shows more)
    "dim": Lighting((0.0, 1.0, 0.1), (0.7, 0.65, 0.55), (0.4, 0.2, -0.6), (0.15, 0.15, 0.18),
                    (0.22, 0.22, 0.25), (0.1, 0.09, 0.08)),
    # outdoors: low sun from the side and behind, blue sky
    "outdoor": Lighting((-0.5, 0.6, 0.6), (2.4, 2.25, 2.0), (0.3, 0.5, -0.5), (0.2, 0.22, 0.3),
                        (0.55, 0.62, 0.8), (0.3, 0.25, 0.2)),
}


def _unit(v: tuple[float, float, float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return a / np.linalg.norm(a)


@dataclass
class Prop:
    """Flat-shaded static geometry: triangles (N x 3 x 3), one normal and one colour per triangle."""

    triangles: np.ndarray
    normals: np.ndarray
    colors: np.ndarray
    shadow_clip: tuple[float, float, float, float] = (-1e4, 1e4, -1e4, 1e4)  # x0, x1, z0, z1 of the shadow

    @classmethod
    def box(cls, extents: tuple[float, float, float], centre: tuple[float, float, float],
            color: tuple[float, float, float]) -> Prop:
        m = trimesh.creation.box(extents=extents, transform=trimesh.transformations.translation_matrix(centre))
        tri = m.vertices[m.faces]
        return cls(tri, np.asarray(m.face_normals), np.tile(np.asarray(color), (len(tri), 1)))

    @staticmethod
    def join(props: list[Prop]) -> Prop:
        return Prop(np.concatenate([p.triangles for p in props]), np.concatenate([p.normals for p in props]),
                    np.concatenate([p.colors for p in props]))

    def with_shadow_clip(self, clip: tuple[float, float, float, float]) -> Prop:
        return Prop(self.triangles, self.normals, self.colors, clip)

    def vertex_data(self) -> np.ndarray:
        n = len(self.triangles)
        return np.concatenate([self.triangles.reshape(-1, 3), np.repeat(self.normals, 3, axis=0),
                               np.repeat(self.colors, 3, axis=0)], axis=1).astype("f4").reshape(n * 3, 9)


def treadmill_room(belt_y: float, rng: np.random.Generator, wall_ahead_m: float = 3.5,
                   console: bool = True) -> tuple[Prop, float]:
    """A treadmill under the runner (origin), a wall ahead, a floor; returns the props and the floor height.

    ``console=False`` leaves out the uprights and the console (a camera in front of the runner would
    otherwise look at the console instead of the runner)."""
    floor_y = belt_y - 0.2
    gray = rng.uniform(0.25, 0.55)
    floor_col = tuple(np.clip(gray + rng.normal(0, 0.04, 3), 0, 1))
    wall_col = tuple(np.clip(rng.uniform(0.55, 0.9) + rng.normal(0, 0.05, 3), 0, 1))
    frame_col = (0.18, 0.18, 0.2) if rng.random() < 0.5 else (0.6, 0.6, 0.62)
    props = [
        Prop.box((40.0, 0.02, 40.0), (0.0, floor_y - 0.01, 0.0), floor_col),
        Prop.box((0.05, 8.0, 40.0), (wall_ahead_m, floor_y + 4.0, 0.0), wall_col),
        # deck and belt: 1.8 m x 0.55 m belt, centred a little ahead of the runner's pelvis
        Prop.box((2.0, 0.19, 0.8), (0.15, floor_y + 0.095, 0.0), frame_col),
        Prop.box((1.8, 0.012, 0.55), (0.15, belt_y - 0.006, 0.0), (0.06, 0.06, 0.065)),
        # side rails
        *(Prop.box((2.0, 0.05, 0.12), (0.15, belt_y - 0.02, s * 0.34), frame_col) for s in (-1, 1)),
    ]
    if console:  # uprights, console and hand rails at the front
        props += [
            *(Prop.box((0.06, 1.15, 0.06), (1.1, floor_y + 0.7, s * 0.36), frame_col) for s in (-1, 1)),
            Prop.box((0.25, 0.3, 0.8), (1.12, floor_y + 1.35, 0.0), frame_col),
            *(Prop.box((0.5, 0.04, 0.04), (0.9, floor_y + 1.1, s * 0.36), frame_col) for s in (-1, 1)),
        ]
    return Prop.join(props).with_shadow_clip((0.15 - 0.9, 0.15 + 0.9, -0.275, 0.275)), floor_y


def running_track(ground_y: float, rng: np.random.Generator, lane_width_m: float = 1.22) -> tuple[Prop, float]:
    """A long straight of synthetic track with lane lines, grass beside it and a fence at the far end."""
    tartan = tuple(np.clip(np.array([0.62, 0.26, 0.2]) + rng.normal(0, 0.03, 3), 0, 1))
    props = [
        Prop.box((120.0, 0.02, 11.0), (20.0, ground_y - 0.01, -3.5), tartan),
        Prop.box((120.0, 0.02, 40.0), (20.0, ground_y - 0.02, 2.0 + 20.0), (0.25, 0.45, 0.2)),
        Prop.box((120.0, 0.02, 40.0), (20.0, ground_y - 0.02, -9.0 - 20.0), (0.25, 0.45, 0.2)),
        Prop.box((0.2, 2.5, 80.0), (75.0, ground_y + 1.25, 0.0), (0.35, 0.38, 0.36)),
        Prop.box((0.2, 2.5, 80.0), (-35.0, ground_y + 1.25, 0.0), (0.35, 0.38, 0.36)),
    ]
    for k in range(-5, 2):
        z = (k + 0.5) * lane_width_m
        props.append(Prop.box((120.0, 0.004, 0.05), (20.0, ground_y + 0.001, z), (0.92, 0.92, 0.9)))
    return Prop.join(props), ground_y


class Renderer:
    """One OpenGL context and framebuffer; draws the scene and the body for a camera."""

    def __init__(self, width: int, height: int, faces: np.ndarray, body_colors: np.ndarray, props: Prop,
                 lighting: Lighting, background: tuple[float, float, float], samples: int = 0) -> None:
        try:
            import moderngl
        except ImportError:
            raise AssetError("moderngl is not installed: pip install -e '.[twin]'") from None
        try:
            self.ctx = moderngl.create_standalone_context(backend="egl")
        except Exception as exc:
            raise AssetError(f"no headless OpenGL (EGL) context: {exc}; on Debian: {EGL_HINT}") from None
        self._mgl = moderngl
        self.width, self.height = width, height
        self.background = background
        ctx = self.ctx
        self.prog = ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=FRAGMENT_SHADER)
        lt = lighting
        for name, value in (("key_dir", _unit(lt.key_dir)), ("fill_dir", _unit(lt.fill_dir)),
                            ("key_col", lt.key_col), ("fill_col", lt.fill_col), ("sky_col", lt.sky_col),
                            ("ground_col", lt.ground_col)):
            self.prog[name].value = tuple(float(x) for x in value)
        self.key_dir = _unit(lt.key_dir)
        self.n_body = int(faces.max()) + 1
        self.body_pos = ctx.buffer(reserve=self.n_body * 24)
        self.body_col = ctx.buffer(np.asarray(body_colors, dtype="f4").tobytes())
        self.body_idx = ctx.buffer(np.asarray(faces, dtype="i4").tobytes())
        self.body_vao = ctx.vertex_array(self.prog, [(self.body_pos, "3f 3f", "in_pos", "in_norm"),
                                                     (self.body_col, "3f", "in_col")], self.body_idx)
        self.prog["shadow_clip"].value = tuple(float(x) for x in props.shadow_clip)
        self.props_vbo = ctx.buffer(props.vertex_data().tobytes())
        self.props_vao = ctx.vertex_array(self.prog, [(self.props_vbo, "3f 3f 3f", "in_pos", "in_norm", "in_col")])
        samples = min(samples, ctx.max_samples)
        self.fbo = ctx.framebuffer(color_attachments=[ctx.renderbuffer((width, height))],
                                   depth_attachment=ctx.depth_renderbuffer((width, height)))
        self.fbo_ms = self.fbo
        if samples > 1:
            self.fbo_ms = ctx.framebuffer(color_attachments=[ctx.renderbuffer((width, height), samples=samples)],
                                          depth_attachment=ctx.depth_renderbuffer((width, height), samples=samples))

    def close(self) -> None:
        self.ctx.release()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def render(self, camera: Camera, vertices: np.ndarray, normals: np.ndarray, floor_y: float,
               jitter_px: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """One picture (H x W x 3 float32 in 0..1) of the body posed at ``vertices`` with ``normals``.

        ``jitter_px`` shifts the picture by a fraction of a pixel: sub-frames averaged with a zero-mean
        pattern of shifts smooth the edges (supersampling) without moving anything on average.
        """
        mgl = self._mgl
        ctx = self.ctx
        view, proj = camera.gl_matrices()
        proj[0, 2] += 2.0 * jitter_px[0] / self.width
        proj[1, 2] += 2.0 * jitter_px[1] / self.height
        self.prog["view_proj"].write((proj @ view).T.astype("f4").tobytes())
        self.prog["eye"].value = tuple(float(x) for x in camera.position)
        self.fbo_ms.use()
        ctx.clear(*self.background, 1.0)
        ctx.enable(mgl.DEPTH_TEST)
        ctx.disable(mgl.CULL_FACE)
        self.prog["shadow"].value = 0.0
        self.prog["model"].write(np.eye(4, dtype="f4").tobytes())
        self.props_vao.render(mgl.TRIANGLES)
        self.body_pos.write(np.concatenate([vertices, normals], axis=1).astype("f4").tobytes())
        self.body_vao.render(mgl.TRIANGLES)
        # the shadow: the body flattened onto the floor along the key light, darkening what is there once
        # (each pixel's first shadow fragment writes the depth; overlapping ones fail the LESS test)
        self.prog["model"].write(_shadow_matrix(self.key_dir, floor_y + 0.003).T.astype("f4").tobytes())
        self.prog["shadow"].value = 0.45
        ctx.enable(mgl.BLEND)
        ctx.blend_func = mgl.ZERO, mgl.SRC_COLOR
        ctx.depth_func = "<"
        self.body_vao.render(mgl.TRIANGLES)
        ctx.disable(mgl.BLEND)
        ctx.depth_func = "<="
        if self.fbo_ms is not self.fbo:
            ctx.copy_framebuffer(self.fbo, self.fbo_ms)
        raw = self.fbo.read(components=3, alignment=1)
        img = np.frombuffer(raw, dtype=np.uint8).reshape(self.height, self.width, 3)[::-1]
        return img.astype(np.float32) * (1.0 / 255.0)


def _shadow_matrix(light_dir: np.ndarray, plane_y: float) -> np.ndarray:
    """Projects points onto the plane Y = plane_y along ``light_dir`` (towards the light)."""
    lx, ly, lz = light_dir
    ly = max(ly, 0.2)
    m = np.eye(4)
    m[0, 1] = -lx / ly
    m[2, 1] = -lz / ly
    m[1, 1] = 0.0
    m[0, 3] = lx / ly * plane_y
    m[2, 3] = lz / ly * plane_y
    m[1, 3] = plane_y
    return m


def hfov_ok(deg: float) -> bool:
    return 20.0 <= deg <= 140.0 and not math.isnan(deg)
