"""Face adapter: dlib HOG detection, 5-point landmarks and the ResNet embedding from face_recognition_models.

Only the 5-point landmark model is used (the 68-point model's training data is licensed non-commercially).
Quality is reported as what an operator can fix: exactly one face found, its size (eye distance in
pixels), its pose (roll angle, yaw and pitch estimated from the 5 landmarks) and its sharpness.
"""

from __future__ import annotations

import hashlib
import math
import threading
import warnings
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import version as _dist_version
from pathlib import Path

import dlib
import numpy as np

from .errors import BiometricInputError
from .fingerprint import decode_image
from .templates import FACE, FLOAT32_VECTOR, Template, require_same_kind

MODEL_NAME = "dlib_face_recognition_resnet_model_v1"
EXTRACTOR = f"dlib ResNet ({MODEL_NAME}, 5-point alignment)"
EXTRACTOR_VERSION = f"dlib {dlib.__version__}; face_recognition_models {_dist_version('face_recognition_models')}"
DIM = 128

_FACE_FORMATS = {"JPEG", "PNG", "BMP", "TIFF", "JPEG2000", "PPM", "WEBP"}
# Large photos are shrunk for detection only; the embedding is computed on the original pixels.
_DETECT_MAX_SIDE = 800


def _model_path(name: str) -> str:
    # importlib.resources instead of face_recognition_models' own pkg_resources lookup, which setuptools>=81
    # drops; importing the package still runs that import, whose deprecation warning is noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return str(Path(str(resources.files("face_recognition_models") / "models" / name)))


@dataclass(frozen=True)
class FaceQualityFloor:
    min_eye_distance_px: float = 40.0
    max_roll_deg: float = 20.0
    max_yaw: float = 0.35
    min_sharpness: float = 15.0
    min_score: int = 40


@dataclass
class FaceQuality:
    faces_found: int
    box: tuple[int, int, int, int]
    eye_distance_px: float
    roll_deg: float
    # Nose offset from the eye midpoint along the eye line, in eye distances: ~0 frontal, +-0.5 strong turn.
    yaw: float
    # Nose drop below the eye line, in eye distances: about 0.5-0.7 frontal.
    pitch: float
    sharpness: float
    score: int

    def problems(self, floor: FaceQualityFloor) -> list[str]:
        out = []
        if self.eye_distance_px < floor.min_eye_distance_px:
            out.append(f"face too small: eyes {self.eye_distance_px:.0f} px apart, need {floor.min_eye_distance_px:.0f}")
        if abs(self.roll_deg) > floor.max_roll_deg:
            out.append(f"head tilted {self.roll_deg:.0f} degrees: keep the head level")
        if abs(self.yaw) > floor.max_yaw:
            out.append("head turned: the person should face the camera")
        if self.sharpness < floor.min_sharpness:
            out.append(f"image blurred (sharpness {self.sharpness:.0f}, need {floor.min_sharpness:.0f}): hold still, refocus")
        if self.score < floor.min_score:
            out.append(f"overall face quality {self.score} below floor {floor.min_score}")
        return out


@dataclass
class FaceCapture:
    original: bytes
    sha256: str
    width: int
    height: int
    quality: FaceQuality
    template: Template
    landmarks: list[tuple[int, int]]
    recapture: str | None = None

    @property
    def embedding(self) -> np.ndarray:
        return embedding_of(self.template)


def embedding_of(template: Template) -> np.ndarray:
    if template.format != FLOAT32_VECTOR or len(template.data) != DIM * 4:
        raise BiometricInputError(f"face template is not {DIM} float32 values", "bad_template")
    return np.frombuffer(template.data, dtype="<f4")


_models_lock = threading.Lock()
_models: dict[str, object] = {}


def _models_get() -> tuple[object, object, object]:
    with _models_lock:
        if not _models:
            _models["detector"] = dlib.get_frontal_face_detector()
            _models["shape"] = dlib.shape_predictor(_model_path("shape_predictor_5_face_landmarks.dat"))
            _models["net"] = dlib.face_recognition_model_v1(_model_path(f"{MODEL_NAME}.dat"))
    return _models["detector"], _models["shape"], _models["net"]


def _sharpness(gray: np.ndarray) -> float:
    # Variance of a 4-neighbour Laplacian on the aligned 150x150 chip, so faces of any size compare.
    g = gray.astype(np.float32)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


class FaceAdapter:
    modality = FACE
    extractor = EXTRACTOR
    version = EXTRACTOR_VERSION

    def __init__(self, floor: FaceQualityFloor | None = None) -> None:
        self.floor = floor or FaceQualityFloor()

    def capture(self, data: bytes, *, what: str = "face photo") -> FaceCapture:
        img, _fmt = decode_image(data, what=what, allowed=_FACE_FORMATS)
        rgb = np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))
        return self.capture_pixels(rgb, original=data, what=what)

    def capture_pixels(self, rgb: np.ndarray, *, original: bytes, what: str = "face photo") -> FaceCapture:
        detector, shape_model, net = _models_get()
        h, w = rgb.shape[:2]
        scale = min(1.0, _DETECT_MAX_SIDE / max(h, w))
        small = rgb
        if scale < 1.0:
            from PIL import Image

            small = np.asarray(Image.fromarray(rgb).resize((int(w * scale), int(h * scale))))
        # Upsampling once finds faces down to ~40 px; skip it on big photos where it costs 4x for nothing.
        upsample = 1 if max(small.shape[:2]) <= 500 else 0
        dets = detector(small, upsample)
        if len(dets) == 0 and upsample == 0:
            dets = detector(small, 1)
        if len(dets) == 0:
            raise BiometricInputError(f"no face found in the {what}: the photo must show one face, frontal", "no_face")
        if len(dets) > 1:
            raise BiometricInputError(
                f"{len(dets)} faces found in the {what}: the photo must show exactly one person", "multiple_faces"
            )
        d = dets[0]
        rect = dlib.rectangle(
            int(d.left() / scale), int(d.top() / scale), int(d.right() / scale), int(d.bottom() / scale)
        )
        shape = shape_model(rgb, rect)
        pts = [(shape.part(i).x, shape.part(i).y) for i in range(5)]
        quality = self._quality(rgb, rect, shape, pts)
        desc = np.asarray(net.compute_face_descriptor(rgb, shape, 0), dtype=np.float32)
        norm = float(np.linalg.norm(desc))
        if not math.isfinite(norm) or norm == 0.0:
            raise BiometricInputError(f"the face embedding of the {what} is degenerate", "extraction_failed")
        desc = (desc / norm).astype("<f4")
        template = Template(
            modality=FACE,
            extractor=EXTRACTOR,
            version=EXTRACTOR_VERSION,
            format=FLOAT32_VECTOR,
            data=desc.tobytes(),
            quality=quality.score,
        )
        problems = quality.problems(self.floor)
        return FaceCapture(
            original=original,
            sha256=hashlib.sha256(original).hexdigest(),
            width=w,
            height=h,
            quality=quality,
            template=template,
            landmarks=pts,
            recapture="; ".join(problems) if problems else None,
        )

    @staticmethod
    def _quality(rgb: np.ndarray, rect: dlib.rectangle, shape: dlib.full_object_detection, pts: list) -> FaceQuality:
        # dlib 5-point order: 0-1 one eye's corners, 2-3 the other eye's corners, 4 the base of the nose.
        p = np.asarray(pts, dtype=np.float64)
        eye_a, eye_b, nose = p[0:2].mean(axis=0), p[2:4].mean(axis=0), p[4]
        left, right = (eye_a, eye_b) if eye_a[0] < eye_b[0] else (eye_b, eye_a)
        vec = right - left
        eye_dist = float(np.hypot(*vec))
        roll = math.degrees(math.atan2(vec[1], vec[0]))
        unit = vec / max(eye_dist, 1e-6)
        rel = nose - (left + right) / 2
        yaw = float(rel @ unit) / max(eye_dist, 1e-6)
        pitch = float(rel @ np.array([-unit[1], unit[0]])) / max(eye_dist, 1e-6)
        chip = dlib.get_face_chip(rgb, shape, size=150)
        sharp = _sharpness(np.asarray(chip, dtype=np.float32).mean(axis=2))
        # A 0-100 summary for sorting and floors; each factor saturates where it stops mattering.
        s_size = min(1.0, eye_dist / 60.0)
        s_pose = max(0.0, 1.0 - abs(yaw) / 0.5) * max(0.0, 1.0 - abs(roll) / 45.0)
        s_sharp = min(1.0, sharp / 60.0)
        score = int(round(100 * s_size * s_pose * (0.5 + 0.5 * s_sharp)))
        box = (rect.left(), rect.top(), rect.right(), rect.bottom())
        return FaceQuality(1, box, eye_dist, roll, yaw, pitch, sharp, score)

    @staticmethod
    def similarity(a: Template, b: Template) -> float:
        """Cosine similarity of unit embeddings, in [-1, 1]; dlib's 0.6 Euclidean rule is about 0.82."""
        require_same_kind(a, b)
        return float(embedding_of(a) @ embedding_of(b))
