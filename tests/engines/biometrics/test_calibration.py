from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from custody.engines.biometrics.calibration import calibrate, det_png, labelled_scores, rates


def test_threshold_meets_the_target_fmr_exactly_on_known_scores() -> None:
    impostor = np.arange(1000, dtype=float)  # 0..999
    genuine = np.array([995.0, 998.0, 1200.0, 1500.0])
    cal = calibrate("finger", genuine, impostor, target_fmr=0.005)
    # 5 of 1000 impostor scores are >= 995: FMR 0.005 at threshold 995.
    assert cal.threshold == 995.0 and cal.fmr == pytest.approx(0.005)
    assert cal.fnmr == 0.0
    cal2 = calibrate("finger", genuine, impostor, target_fmr=0.002)
    assert cal2.threshold == 998.0 and cal2.fnmr == pytest.approx(0.25)


def test_target_below_sample_floor_is_flagged() -> None:
    cal = calibrate("face", [0.9, 0.95], [0.1, 0.2, 0.3], target_fmr=1e-4)
    s = cal.summary()
    assert s["fmr_floor"] == pytest.approx(1 / 3) and s["target_supported"] is False
    assert cal.fmr == 0.0 and cal.threshold > 0.3


def test_rates_and_labelled_scores() -> None:
    items = [("a", 1.0), ("a", 1.1), ("b", 5.0), ("b", 5.2)]
    g, i = labelled_scores(items, lambda x, y: -abs(x - y))
    assert sorted(g.round(3)) == [-0.2, -0.1] and len(i) == 4
    fmr, fnmr = rates(np.array([3.0, 4.0]), np.array([1.0, 2.0]), np.array([2.0, 3.5]))
    assert list(fmr) == [0.5, 0.0] and list(fnmr) == [0.0, 0.5]


def test_det_curve_is_a_png() -> None:
    rng = np.random.default_rng(0)
    cal = calibrate("face", rng.normal(0.95, 0.02, 300), rng.normal(0.7, 0.05, 3000), 1e-3)
    png = det_png([cal])
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size == (600, 450)


def test_empty_sets_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one genuine"):
        calibrate("face", [], [0.1])
