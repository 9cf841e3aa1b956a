"""Calibration: genuine and impostor score distributions, thresholds for a target FMR, DET curve.

Scores are "higher is more similar" for both modalities (BOZORTH3 points, face cosine similarity). The
threshold proposed for a target FMR is the smallest score such that the fraction of impostor scores at
or above it does not exceed the target; with n impostor scores no FMR below 1/n can be claimed, and the
report says so instead of extrapolating.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Calibration:
    modality: str
    genuine: np.ndarray
    impostor: np.ndarray
    target_fmr: float
    threshold: float
    fmr: float
    fnmr: float
    # The smallest FMR the impostor sample size can support (1 / number of impostor scores).
    fmr_floor: float
    eer: float

    def summary(self) -> dict[str, Any]:
        return {
            "modality": self.modality,
            "genuine_count": int(self.genuine.size),
            "impostor_count": int(self.impostor.size),
            "genuine_mean": float(self.genuine.mean()) if self.genuine.size else None,
            "impostor_mean": float(self.impostor.mean()) if self.impostor.size else None,
            "impostor_max": float(self.impostor.max()) if self.impostor.size else None,
            "genuine_min": float(self.genuine.min()) if self.genuine.size else None,
            "target_fmr": self.target_fmr,
            "threshold": self.threshold,
            "fmr_at_threshold": self.fmr,
            "fnmr_at_threshold": self.fnmr,
            "fmr_floor": self.fmr_floor,
            "eer": self.eer,
            "target_supported": self.target_fmr >= self.fmr_floor,
        }


def labelled_scores(
    items: Sequence[tuple[str, Any]], compare: Callable[[Any, Any], float], max_impostors: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """All genuine pairs and (up to max_impostors) impostor pairs of (label, template) items."""
    genuine, impostor = [], []
    for (la, a), (lb, b) in itertools.combinations(items, 2):
        if la == lb:
            genuine.append(compare(a, b))
        elif max_impostors is None or len(impostor) < max_impostors:
            impostor.append(compare(a, b))
    return np.asarray(genuine, dtype=np.float64), np.asarray(impostor, dtype=np.float64)


def rates(genuine: np.ndarray, impostor: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FMR, FNMR) at each threshold: accept when score >= threshold."""
    g = np.sort(genuine)
    i = np.sort(impostor)
    # Counts first, one division last: 1 - 995/1000 is not exactly 0.005 in floating point.
    fmr = (i.size - np.searchsorted(i, thresholds, side="left")) / max(i.size, 1)
    fnmr = np.searchsorted(g, thresholds, side="left") / max(g.size, 1)
    return fmr, fnmr


def calibrate(modality: str, genuine: Sequence[float], impostor: Sequence[float], target_fmr: float = 1e-3) -> Calibration:
    g = np.asarray(genuine, dtype=np.float64)
    i = np.asarray(impostor, dtype=np.float64)
    if g.size == 0 or i.size == 0:
        raise ValueError("calibration needs at least one genuine and one impostor score (two samples of one person, two people)")
    cands = np.unique(np.concatenate([g, i, [i.max() + 1e-9 if modality == "face" else i.max() + 1]]))
    fmr, fnmr = rates(g, i, cands)
    ok = np.flatnonzero(fmr <= target_fmr)
    k = int(ok[0])
    eer_idx = int(np.argmin(np.abs(fmr - fnmr)))
    return Calibration(
        modality=modality,
        genuine=g,
        impostor=i,
        target_fmr=target_fmr,
        threshold=float(cands[k]),
        fmr=float(fmr[k]),
        fnmr=float(fnmr[k]),
        fmr_floor=1.0 / i.size,
        eer=float((fmr[eer_idx] + fnmr[eer_idx]) / 2),
    )


def det_png(calibrations: Mapping[str, Calibration] | Sequence[Calibration], title: str = "DET curve") -> bytes:
    """A DET plot (FNMR against FMR, log axes) with the chosen operating points marked, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cals = list(calibrations.values()) if isinstance(calibrations, Mapping) else list(calibrations)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    floor = 1e-6
    for cal in cals:
        ts = np.unique(np.concatenate([cal.genuine, cal.impostor]))
        fmr, fnmr = rates(cal.genuine, cal.impostor, ts)
        ax.plot(np.clip(fmr, floor, 1), np.clip(fnmr, floor, 1), label=f"{cal.modality} (EER {cal.eer:.3%})")
        ax.plot(
            [max(cal.fmr, floor)], [max(cal.fnmr, floor)], "o",
            label=f"{cal.modality} threshold {cal.threshold:g}: FMR {cal.fmr:.1e}, FNMR {cal.fnmr:.2%}",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor, 1)
    ax.set_ylim(floor, 1)
    ax.set_xlabel("False match rate (FMR)")
    ax.set_ylabel("False non-match rate (FNMR)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
