"""Seeded synthetic biometric data, SFinGe-style fingerprints and clustered face embeddings.

Fingerprints follow the SFinGe recipe (Cappelli, Maio, Maltoni): a finger silhouette; an orientation field
from core and delta positions (the Sherlock-Monro zero-pole model); a ridge pattern grown from random
seeds by iterated orientation-steered Gabor filtering; then each impression is the master print
rotated, translated, non-linearly warped (skin distortion), cropped, pressed harder or lighter and noised.

These prints are EASIER than real ones: no scars, creases, dryness, sweat pores, latent smudges or
sensor artefacts, and the warp model is gentle. Accuracy figures measured on them flatter any matcher;
accuracy claims must come from real test prints.

Faces at scale are not images but embeddings: each identity is a random direction, each sample that
direction plus noise, with a shared component so impostor similarities sit well above zero as they do
for real dlib embeddings.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .fingerprint import Minutia, build_iso_19794_2
from .templates import FACE, FINGER, FLOAT32_VECTOR, ISO_19794_2_2005, Template

WIDTH, HEIGHT = 320, 416
_BINS = 16
_KSIZE = 25

CLASSES = ("arch", "tented_arch", "left_loop", "right_loop", "whorl")
_CLASS_P = (0.05, 0.05, 0.32, 0.33, 0.25)


@dataclass(frozen=True)
class MasterPrint:
    seed: int
    cls: str
    ridges: np.ndarray  # float32 in [-1, 1], HEIGHT x WIDTH
    mask: np.ndarray  # float32 in [0, 1]
    orientation: np.ndarray  # radians, ridge direction mod pi
    period: float


def _grid() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    return yy, xx


def _silhouette(rng: np.random.Generator, yy: np.ndarray | None = None, xx: np.ndarray | None = None) -> np.ndarray:
    if yy is None or xx is None:
        yy, xx = _grid()
    cx, cy = WIDTH / 2 + rng.uniform(-10, 10), HEIGHT / 2 + rng.uniform(-10, 20)
    a, b = rng.uniform(115, 140), rng.uniform(165, 195)
    # A fingertip: round on top, wider and flatter towards the bottom.
    dy = (yy - cy) / b
    dx = (xx - cx) / (a * (1 + 0.12 * np.clip(dy, 0, None)))
    r = np.sqrt(dx**2 + np.where(dy > 0, (dy * 0.7) ** 2, dy**2))
    return np.clip((1.0 - r) * 12.0, 0.0, 1.0).astype(np.float32)


def _orientation(
    rng: np.random.Generator, cls: str, yy: np.ndarray | None = None, xx: np.ndarray | None = None
) -> np.ndarray:
    if yy is None or xx is None:
        yy, xx = _grid()
    z = xx + 1j * yy
    cx, cy = WIDTH / 2 + rng.uniform(-25, 25), HEIGHT * rng.uniform(0.38, 0.5)
    cores: list[complex] = []
    deltas: list[complex] = []
    if cls == "arch":
        # No singularities: ridges arch across the finger.
        amp = rng.uniform(0.3, 0.6)
        theta = np.arctan(amp * np.tanh((xx - cx) / 80.0) * np.exp(-((yy - cy) / 180.0) ** 2) * -2.0)
        return np.mod(theta + rng.normal(0, 0.03), np.pi).astype(np.float32)
    if cls == "tented_arch":
        cores, deltas = [complex(cx, cy)], [complex(cx + rng.uniform(-8, 8), cy + rng.uniform(60, 90))]
    elif cls == "left_loop":
        cores, deltas = [complex(cx, cy)], [complex(cx + rng.uniform(70, 110), cy + rng.uniform(90, 130))]
    elif cls == "right_loop":
        cores, deltas = [complex(cx, cy)], [complex(cx - rng.uniform(70, 110), cy + rng.uniform(90, 130))]
    else:  # whorl
        sep = rng.uniform(20, 40)
        cores = [complex(cx - sep / 2, cy - 8), complex(cx + sep / 2, cy + 8)]
        deltas = [complex(cx - rng.uniform(100, 130), cy + rng.uniform(100, 140)),
                  complex(cx + rng.uniform(100, 130), cy + rng.uniform(100, 140))]
    # Sherlock-Monro: ridges are horizontal far away, each core turns them by +pi, each delta by -pi.
    # Computed in image coordinates (rows down), which mirrors the model: still a valid fingerprint field.
    theta = np.zeros_like(xx)
    for c in cores:
        theta += 0.5 * np.angle(z - c)
    for d in deltas:
        theta -= 0.5 * np.angle(z - d)
    return np.mod(theta + rng.normal(0, 0.02), np.pi).astype(np.float32)  # same draw count for any grid


def _gabor_bank(period: float) -> np.ndarray:
    half = _KSIZE // 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    sigma = period * 0.45
    out = np.zeros((_BINS, HEIGHT, WIDTH // 2 + 1), dtype=np.complex64)
    for b in range(_BINS):
        th = b * np.pi / _BINS
        # Wave runs across the ridges, i.e. perpendicular to the ridge direction.
        u = -xx * math.sin(th) + yy * math.cos(th)
        k = np.exp(-(xx**2 + yy**2) / (2 * sigma**2)) * np.cos(2 * np.pi * u / period)
        k -= k.mean()
        k /= np.abs(k).sum()
        pad = np.zeros((HEIGHT, WIDTH), dtype=np.float32)
        pad[: _KSIZE, : _KSIZE] = k
        pad = np.roll(pad, (-half, -half), axis=(0, 1))
        out[b] = np.fft.rfft2(pad)
    return out


_BANKS: dict[float, np.ndarray] = {}


def master_print(seed: int, cls: str | None = None, iterations: int = 9) -> MasterPrint:
    rng = np.random.default_rng(seed)
    if cls is None:
        cls = str(rng.choice(CLASSES, p=_CLASS_P))
    period = float(np.round(rng.uniform(8.5, 10.0) * 4) / 4)
    bank = _BANKS.get(period)
    if bank is None:
        bank = _BANKS[period] = _gabor_bank(period)
    mask = _silhouette(rng)
    theta = _orientation(rng, cls)
    bins = np.round(theta / np.pi * _BINS).astype(np.int64) % _BINS
    img = np.zeros((HEIGHT, WIDTH), dtype=np.float32)
    seeds = rng.random((HEIGHT, WIDTH)) < 0.0015
    img[seeds] = rng.choice([-1.0, 1.0], size=int(seeds.sum()))
    for _ in range(iterations):
        spec = np.fft.rfft2(img)
        new = np.zeros_like(img)
        for b in range(_BINS):
            sel = bins == b
            if sel.any():
                new[sel] = np.fft.irfft2(spec * bank[b], s=img.shape)[sel]
        scale = float(np.percentile(np.abs(new), 95)) or 1.0
        img = np.tanh(2.5 * new / scale).astype(np.float32)
    return MasterPrint(seed, cls, img, mask, theta, period)


def _bilinear(a: np.ndarray, ys: np.ndarray, xs: np.ndarray, fill: float) -> np.ndarray:
    h, w = a.shape
    x0 = np.floor(xs).astype(np.int64)
    y0 = np.floor(ys).astype(np.int64)
    fx, fy = xs - x0, ys - y0
    out = np.full(xs.shape, fill, dtype=np.float32)
    ok = (x0 >= 0) & (y0 >= 0) & (x0 < w - 1) & (y0 < h - 1)
    x0o, y0o, fxo, fyo = x0[ok], y0[ok], fx[ok], fy[ok]
    out[ok] = (
        a[y0o, x0o] * (1 - fxo) * (1 - fyo)
        + a[y0o, x0o + 1] * fxo * (1 - fyo)
        + a[y0o + 1, x0o] * (1 - fxo) * fyo
        + a[y0o + 1, x0o + 1] * fxo * fyo
    )
    return out


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: int) -> np.ndarray:
    gh, gw = shape[0] // cell + 2, shape[1] // cell + 2
    grid = rng.normal(0, 1, (gh, gw)).astype(np.float32)
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    return _bilinear(grid, ys / cell, xs / cell, 0.0)


def impression(master: MasterPrint, seed: int, difficulty: float = 1.0) -> np.ndarray:
    """One capture of a master print as a uint8 image (dark ridges on a light background)."""
    rng = np.random.default_rng(seed)
    ang = math.radians(rng.uniform(-12, 12) * difficulty)
    tx, ty = rng.uniform(-18, 18) * difficulty, rng.uniform(-18, 18) * difficulty
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    cx, cy = WIDTH / 2, HEIGHT / 2
    # Inverse mapping: where in the master does each output pixel come from.
    x1, y1 = xs - cx - tx, ys - cy - ty
    sx = math.cos(ang) * x1 + math.sin(ang) * y1 + cx
    sy = -math.sin(ang) * x1 + math.cos(ang) * y1 + cy
    warp = 4.0 * difficulty
    sx = sx + warp * _smooth_noise(rng, (HEIGHT, WIDTH), 80)
    sy = sy + warp * _smooth_noise(rng, (HEIGHT, WIDTH), 80)
    ridges = _bilinear(master.ridges, sy, sx, 0.0)
    mask = _bilinear(master.mask, sy, sx, 0.0)
    # Partial contact: the pressed area is a random ellipse inside the finger.
    pressed = np.clip(1.2 - np.hypot((xs - cx - rng.uniform(-25, 25) * difficulty) / rng.uniform(120, 160),
                                     (ys - cy - rng.uniform(-30, 30) * difficulty) / rng.uniform(160, 210)), 0, 1)
    contact = mask * np.clip(pressed * 3, 0, 1)
    bias = rng.uniform(-0.25, 0.25) + 0.25 * _smooth_noise(rng, (HEIGHT, WIDTH), 60) * difficulty
    ink = 1 / (1 + np.exp(-6 * (ridges + bias)))
    dropout = _smooth_noise(rng, (HEIGHT, WIDTH), 12) > 1.6 * (2 - min(difficulty, 1.5))
    ink = np.where(dropout, ink * 0.3, ink)
    level = 235 - 170 * ink * contact
    level += rng.normal(0, 6 + 4 * difficulty, level.shape)
    return np.clip(level, 0, 255).astype(np.uint8)


def png_bytes(pixels: np.ndarray, ppi: float = 500.0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, "L").save(buf, "PNG", dpi=(ppi, ppi))
    return buf.getvalue()


def finger_seed(person: int, position: int, base: int = 0) -> int:
    return (base * 1_000_003 + person) * 11 + position


# -- minutiae-level synthesis for large galleries -------------------------------------------------------


def synthetic_minutiae_template(seed: int, position: int = 0) -> Template:
    """An ISO 19794-2 template drawn directly as minutiae, for filling large galleries quickly.

    Minutiae sit inside a finger silhouette with a minimum spacing, oriented along a core/delta
    orientation field, in numbers like MINDTCT finds on 500 ppi prints (about 35-90). No image exists,
    so these fill galleries for timing and impostor scores; they are not an accuracy test set.
    """
    rng = np.random.default_rng(seed)
    cls = str(rng.choice(CLASSES, p=_CLASS_P))
    cand = rng.uniform((8, 8), (HEIGHT - 8, WIDTH - 8), size=(600, 2)).astype(np.float32)
    cy, cx = cand[:, 0], cand[:, 1]
    theta = _orientation(rng, cls, cy, cx)
    mask = _silhouette(rng, cy, cx)
    want = int(np.clip(rng.normal(62, 14), 30, 110))
    keep: list[int] = []
    for i in np.flatnonzero(mask >= 0.9):
        if len(keep) >= want:
            break
        if keep:
            d2 = (cx[keep] - cx[i]) ** 2 + (cy[keep] - cy[i]) ** 2
            if d2.min() < 144:
                continue
        keep.append(int(i))
    flips = rng.random(len(keep)) < 0.5
    kinds = rng.random(len(keep)) < 0.55
    quals = rng.integers(20, 90, len(keep))
    pts = [
        Minutia(
            int(cx[i]), int(cy[i]), (math.degrees(float(theta[i])) + (180.0 if f else 0.0)) % 360.0,
            "RIDGE_ENDING" if k else "BIFURCATION", int(q),
        )
        for i, f, k, q in zip(keep, flips, kinds, quals, strict=True)
    ]
    from .fingerprint import EXTRACTOR, EXTRACTOR_VERSION

    return Template(
        modality=FINGER,
        extractor=EXTRACTOR,
        version=EXTRACTOR_VERSION,
        format=ISO_19794_2_2005,
        data=build_iso_19794_2(WIDTH, HEIGHT, position, 50, pts),
        position=position,
        quality=50,
    )


# -- face embeddings -------------------------------------------------------------------------------------


def face_identities(n: int, dim: int = 128, seed: int = 0, shared: float = 0.78) -> np.ndarray:
    """Unit identity centres with a common component so impostor cosines average ~ shared**2 + ..."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 1, dim).astype(np.float32)
    common /= np.linalg.norm(common)
    own = rng.normal(0, 1, (n, dim)).astype(np.float32)
    own /= np.linalg.norm(own, axis=1, keepdims=True)
    c = shared * common[None, :] + math.sqrt(1 - shared**2) * own
    return (c / np.linalg.norm(c, axis=1, keepdims=True)).astype(np.float32)


def face_samples(centres: np.ndarray, seed: int, noise: float = 0.22) -> np.ndarray:
    """One noisy unit sample per centre; noise 0.22 gives genuine cosines around 0.95."""
    rng = np.random.default_rng(seed)
    dim = centres.shape[1]
    e = rng.normal(0, noise / math.sqrt(dim), centres.shape).astype(np.float32)
    v = centres + e
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def face_template(vector: np.ndarray) -> Template:
    from .face import EXTRACTOR, EXTRACTOR_VERSION

    return Template(FACE, EXTRACTOR, EXTRACTOR_VERSION, FLOAT32_VECTOR, np.asarray(vector, "<f4").tobytes(), 0, 80)
