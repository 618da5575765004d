"""BlazePose GHUM full: a person detector, then 33 landmarks in a rotated region tracked frame to frame.

The two ``.tflite`` files are MediaPipe's (``pose_detection.tflite`` and
``pose_landmark_full.tflite`` from the mediapipe 0.10.14 wheel); the graph
around them is rebuilt here with numpy and OpenCV, following MediaPipe's
pose_detection / pose_landmark subgraphs:

1. **Detector** (224 px, letterboxed, input in [-1, 1]): 2254 SSD anchors
   (strides 8, 16, 32, 32, 32; scales 0.1484375-0.75; fixed size), boxes and 4
   keypoints decoded against them, sigmoid scores above 0.5, weighted NMS
   (IoU 0.3). Keypoint 0 is the mid-hip centre, keypoint 1 sets the body's size
   and rotation.
2. **Region**: centred on keypoint 0, rotated so keypoint 1 points up, side
   2 × |kp1 - kp0| × 1.25.
3. **Landmarks** (256 px crop of that rotated square, input in [0, 1]): 39
   landmarks (x, y, z, visibility, presence) refined with the 64×64 heatmap,
   a pose-presence flag. Landmarks 33 and 34 are the auxiliary centre/scale
   points that give the next frame's region (the tracking), exactly like the
   detector's keypoints 0 and 1.
4. When the presence flag drops below 0.5 the runner is lost; the detector runs
   again on the same frame.

The 33 body landmarks map onto the 17 COCO keypoints in one place,
:meth:`BlazePose._decode_landmarks`; scores are the landmarks' visibility.
"""

from __future__ import annotations

import math

import numpy as np

from station.coco import NUM_KEYPOINTS
from station.errors import ModelError
from station.keypoints import Pose
from station.pose.base import PoseEstimator
from station.pose.crop import Crop, Square, cut
from station.pose.runtime import TFLiteModel

#: BlazePose landmark index for each COCO keypoint, in COCO order
COCO_FROM_BLAZEPOSE: tuple[int, ...] = (
    0,  # nose
    2,  # left eye (centre)
    5,  # right eye (centre)
    7,  # left ear
    8,  # right ear
    11,  # left shoulder
    12,  # right shoulder
    13,  # left elbow
    14,  # right elbow
    15,  # left wrist
    16,  # right wrist
    23,  # left hip
    24,  # right hip
    25,  # left knee
    26,  # right knee
    27,  # left ankle
    28,  # right ankle
)
assert len(COCO_FROM_BLAZEPOSE) == NUM_KEYPOINTS

DETECTOR_SIZE = 224
DETECTOR_STRIDES = (8, 16, 32, 32, 32)
DETECTOR_MIN_SCALE = 0.1484375
DETECTOR_MAX_SCALE = 0.75
MIN_DETECTION_SCORE = 0.5
NMS_IOU = 0.3
ROI_SCALE = 1.25
MIN_PRESENCE = 0.5
HEATMAP_KERNEL = 7
HEATMAP_MIN_CONFIDENCE = 0.5
_NUM_LANDMARKS = 39  # 33 body + 6 auxiliary


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -100.0, 100.0)))


def ssd_anchor_centres(
    input_size: int = DETECTOR_SIZE,
    strides: tuple[int, ...] = DETECTOR_STRIDES,
    min_scale: float = DETECTOR_MIN_SCALE,
    max_scale: float = DETECTOR_MAX_SCALE,
) -> np.ndarray:
    """(N, 2) anchor centres (x, y) normalised to the detector input, in the model's output order.

    MediaPipe's SSD anchors with one aspect ratio, an interpolated extra scale
    and fixed anchor size: every layer contributes 2 anchors per feature-map
    cell, and consecutive layers with the same stride share one grid. With
    fixed-size anchors only the centres matter (scales are kept for clarity).
    """
    del min_scale, max_scale  # fixed-size anchors: scales do not enter the decoding
    centres = []
    layer = 0
    while layer < len(strides):
        same = layer
        per_cell = 0
        while same < len(strides) and strides[same] == strides[layer]:
            per_cell += 2  # aspect ratio 1.0 + the interpolated scale
            same += 1
        fm = math.ceil(input_size / strides[layer])
        ys, xs = np.meshgrid((np.arange(fm) + 0.5) / fm, (np.arange(fm) + 0.5) / fm, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
        layer = same
    return np.concatenate(centres).astype(np.float64)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (x0, y0, x1, y1) box against many."""
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def region_from_points(centre: np.ndarray, scale_point: np.ndarray) -> Square:
    """MediaPipe's alignment-points rectangle (target angle 90°) enlarged by 1.25: the region around a body."""
    dx, dy = float(scale_point[0] - centre[0]), float(scale_point[1] - centre[1])
    half = math.hypot(dx, dy) * ROI_SCALE
    rotation = math.pi / 2 - math.atan2(-dy, dx)
    rotation = rotation - 2 * math.pi * math.floor((rotation + math.pi) / (2 * math.pi))
    return Square(float(centre[0]), float(centre[1]), half, rotation)


class BlazePose(PoseEstimator):
    """BlazePose full behind :class:`PoseEstimator` (see the module docstring)."""

    def __init__(self, detector: TFLiteModel, landmarks: TFLiteModel, name: str = "blazepose-full") -> None:
        if detector.input_shape != (1, DETECTOR_SIZE, DETECTOR_SIZE, 3) or len(detector.outputs) != 2:
            raise ModelError(
                f"{detector.path.name}: does not look like the BlazePose detector "
                f"(input {list(detector.input_shape)}, expected [1, 224, 224, 3] and 2 outputs)"
            )
        shapes = {tuple(int(v) for v in d["shape"]): i for i, d in enumerate(landmarks.outputs)}
        lm_shape = landmarks.input_shape
        if len(lm_shape) != 4 or lm_shape[1] != lm_shape[2] or (1, _NUM_LANDMARKS * 5) not in shapes:
            raise ModelError(
                f"{landmarks.path.name}: does not look like the BlazePose landmark model "
                f"(input {list(lm_shape)}, outputs {sorted(shapes)})"
            )
        self.detector = detector
        self.landmarks = landmarks
        self.name = name
        self.input_size = lm_shape[1]
        self._anchors = ssd_anchor_centres()
        n_boxes = int(detector.outputs[0]["shape"][1])
        if n_boxes != len(self._anchors):
            raise ModelError(f"{detector.path.name}: {n_boxes} boxes, expected {len(self._anchors)} anchors")
        # outputs are found by shape, not position: runtimes have reordered them before
        self._out_landmarks = shapes[(1, _NUM_LANDMARKS * 5)]
        self._out_flag = shapes.get((1, 1))
        self._out_heatmap = next((i for s, i in shapes.items() if len(s) == 4 and s[3] == _NUM_LANDMARKS), None)
        det_shapes = [tuple(int(v) for v in d["shape"]) for d in detector.outputs]
        self._det_boxes = next(i for i, s in enumerate(det_shapes) if s[-1] > 1)
        self._det_scores = 1 - self._det_boxes
        self._region: Square | None = None
        self._frame_size: tuple[int, int] | None = None
        #: model runs in the last call (detector and landmark runs counted alike)
        self.last_passes = 0

    # -- the interface -------------------------------------------------------------

    def estimate(self, image: np.ndarray, t_s: float = 0.0) -> Pose:
        w, h = self._start_frame(image)
        passes = 0
        result = None
        if self._region is not None:
            result = self._landmarks(image, self._region)
            passes += 1
        if result is None:  # no track, or lost it: find the person on this frame
            region = self._detect(image)
            passes += 1
            if region is not None:
                result = self._landmarks(image, region)
                passes += 1
        self.last_passes = passes
        if result is None:
            self._region = None
            return Pose.empty(t_s, (w, h))
        xy, score, self._region = result
        return Pose(t_s, xy, score, (w, h))

    @property
    def tflite_models(self) -> tuple[TFLiteModel, ...]:
        """The interpreters this estimator runs (``gait-station bench`` reads their invoke timers)."""
        return (self.detector, self.landmarks)

    def reset(self) -> None:
        self._region = None
        self._frame_size = None

    def close(self) -> None:
        self.detector.close()
        self.landmarks.close()

    # -- detector ------------------------------------------------------------------------

    def _detect(self, image: np.ndarray) -> Square | None:
        """The region around the most confident person, or ``None``."""
        h, w = image.shape[:2]
        crop = cut(image, Square.whole_frame(w, h), DETECTOR_SIZE)
        tensor = (crop.image.astype(np.float32) / 127.5 - 1.0)[np.newaxis]
        out = self.detector.run(tensor)
        raw = out[self._det_boxes].reshape(len(self._anchors), -1).astype(np.float64)
        scores = _sigmoid(out[self._det_scores].reshape(-1).astype(np.float64))
        keep = scores >= MIN_DETECTION_SCORE
        if not keep.any():
            return None
        raw, scores, anchors = raw[keep], scores[keep], self._anchors[keep]
        centre = raw[:, 0:2] / DETECTOR_SIZE + anchors
        size = raw[:, 2:4] / DETECTOR_SIZE
        boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
        kps = raw[:, 4:12].reshape(-1, 4, 2) / DETECTOR_SIZE + anchors[:, None, :]
        # weighted NMS, keeping only the best cluster: one runner
        best = int(np.argmax(scores))
        cluster = _iou(boxes[best], boxes) > NMS_IOU
        cluster[best] = True
        weights = scores[cluster] / scores[cluster].sum()
        kp = np.tensordot(weights, kps[cluster], axes=1)  # (4, 2) normalised to the letterboxed input
        kp_frame = crop.points_to_frame(kp * DETECTOR_SIZE)
        return region_from_points(kp_frame[0], kp_frame[1])

    # -- landmarks -----------------------------------------------------------------------

    def _landmarks(self, image: np.ndarray, region: Square) -> tuple[np.ndarray, np.ndarray, Square] | None:
        """COCO keypoints, scores and the next region from one landmark run; ``None`` if nobody is there."""
        if region.half < 2.0:
            return None
        crop = cut(image, region, self.input_size)
        tensor = (crop.image.astype(np.float32) / 255.0)[np.newaxis]
        out = self.landmarks.run(tensor)
        flag = float(out[self._out_flag].reshape(-1)[0]) if self._out_flag is not None else 1.0
        if not 0.0 <= flag <= 1.0:  # a logit, should a build ever emit one
            flag = float(_sigmoid(np.array(flag)))
        if flag < MIN_PRESENCE:
            return None
        heatmap = out[self._out_heatmap][0] if self._out_heatmap is not None else None
        return self._decode_landmarks(out[self._out_landmarks], heatmap, crop)

    def _decode_landmarks(
        self, raw: np.ndarray, heatmap: np.ndarray | None, crop: Crop
    ) -> tuple[np.ndarray, np.ndarray, Square]:
        """Raw [1, 195] landmarks (crop px) -> COCO keypoints in frame px, visibility scores, next region."""
        lm = np.asarray(raw, dtype=np.float64).reshape(_NUM_LANDMARKS, 5)
        xy = lm[:, 0:2].copy()
        if heatmap is not None:
            xy = self._refine_with_heatmap(xy, heatmap)
        frame_xy = crop.points_to_frame(xy)
        visibility = _sigmoid(lm[:, 3])
        idx = list(COCO_FROM_BLAZEPOSE)
        nxt = region_from_points(frame_xy[33], frame_xy[34])
        return frame_xy[idx], visibility[idx], nxt

    def _refine_with_heatmap(self, xy: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
        """MediaPipe's heatmap refinement: a confidence-weighted mean over a 7×7 window around each landmark."""
        hm_h, hm_w, _ = heatmap.shape
        conf = _sigmoid(heatmap.astype(np.float64))
        half_k = HEATMAP_KERNEL // 2
        out = xy.copy()
        for i in range(min(xy.shape[0], heatmap.shape[2])):
            col = int(xy[i, 0] / self.input_size * hm_w)
            row = int(xy[i, 1] / self.input_size * hm_h)
            if not (0 <= col < hm_w and 0 <= row < hm_h):
                continue
            r0, r1 = max(0, row - half_k), min(hm_h, row + half_k + 1)
            c0, c1 = max(0, col - half_k), min(hm_w, col + half_k + 1)
            window = conf[r0:r1, c0:c1, i]
            total = window.sum()
            if window.max() < HEATMAP_MIN_CONFIDENCE or total <= 0:
                continue
            rows, cols = np.mgrid[r0:r1, c0:c1]
            out[i, 0] = (cols * window).sum() / total / hm_w * self.input_size
            out[i, 1] = (rows * window).sum() / total / hm_h * self.input_size
        return out
