"""Biometrics benchmark: enrolment to 1:N answer, 1:1 verification, face 1:N at 1M, fingerprint 1:N at 10k.

Run:  .venv/bin/python bench/biometrics.py            (full: 10,000-person gallery, 1,000,000 face templates)
      .venv/bin/python bench/biometrics.py --quick    (smaller sizes, a minute or two)
Every figure is printed with its baseline measured in the same run (ratios), and a markdown summary is
written with --out (docs/benchmarks/biometrics.md by default when run in full) plus the DET curve PNG.

Data: synthetic. Faces at scale are clustered synthetic embeddings (the real extractor is timed on public
NIST photos); fingerprints are SFinGe-style synthetic prints for the people whose mates are searched, and
minutiae-level synthetic templates for the rest of the gallery (no images: they fill the gallery for
timing and impostor scores). Synthetic prints are easier than real ones: accuracy here flatters.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import resource
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from custody.engines.biometrics import calibration  # noqa: E402
from custody.engines.biometrics.face import FaceAdapter  # noqa: E402
from custody.engines.biometrics.fingerprint import FingerprintAdapter, parse_iso_19794_2  # noqa: E402
from custody.engines.biometrics.gallery import FaceGallery, FingerGallery, pair_histogram  # noqa: E402
from custody.engines.biometrics.identify import Identifier, Thresholds, verify  # noqa: E402
from custody.engines.biometrics.synthetic import (  # noqa: E402
    face_identities,
    face_samples,
    face_template,
    finger_seed,
    impression,
    master_print,
    png_bytes,
    synthetic_minutiae_template,
)

SHARED = ROOT.parent / "shared" / "data" / "biometrics"
if not SHARED.exists():
    SHARED = Path("/work/shared/data/biometrics")

LINES: list[str] = []


def out(line: str = "") -> None:
    print(line, flush=True)
    LINES.append(line)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- data makers (module level so worker processes can run them) ------------------------------------------


def _person_prints(person: int) -> list[tuple[int, bytes, bytes]]:
    """Ten fingers of one synthetic person: (position, enrolment PNG, later-capture PNG)."""
    res = []
    for pos in range(1, 11):
        m = master_print(finger_seed(person, pos, base=1))
        res.append((pos, png_bytes(impression(m, person * 100 + pos)), png_bytes(impression(m, person * 100 + pos + 50))))
    return res


def _filler(seed: int) -> tuple[bytes, np.ndarray]:
    t = synthetic_minutiae_template(seed, 0)
    return t.data, pair_histogram(parse_iso_19794_2(t.data)[3])


def face_photo() -> bytes:
    import nistitl

    msg = nistitl.Message()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        msg.parse((SHARED / "ansi-nist" / "valid1.3.an2").read_bytes())
    return bytes(next(r for r in msg if r.type == 10)[999].value)


def reshoot(jpeg: bytes) -> bytes:
    from PIL import Image

    img = Image.open(io.BytesIO(jpeg)).convert("RGB")
    img = img.resize((int(img.width * 1.25), int(img.height * 1.25))).rotate(3, fillcolor=(120, 120, 120))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


# -- sections --------------------------------------------------------------------------------------------


def build_gallery(people: int, mates: list[list[tuple[int, bytes, bytes]]], pool: int, seed: int = 0):
    """Identifier with `people` subjects; subjects 0..len(mates)-1 have image-derived fingers and faces."""
    t0 = time.perf_counter()
    adapter = FingerprintAdapter(compute_quality=False)
    ident = Identifier(finger_gallery=FingerGallery(workers=2))
    centres = face_identities(people, seed=seed)
    enrolled_faces = face_samples(centres, seed=seed + 1)
    ident.enrol_face_vectors(np.arange(people, dtype=np.int64), enrolled_faces)
    with ProcessPoolExecutor(2) as ex:
        fillers = list(ex.map(_filler, range(10_000_000, 10_000_000 + pool), chunksize=64))
    from custody.engines.biometrics.fingerprint import EXTRACTOR, EXTRACTOR_VERSION, ISO_19794_2_2005
    from custody.engines.biometrics.templates import FINGER, Template

    rng = np.random.default_rng(seed)
    mate_templates: dict[int, list[Template]] = {}
    with ThreadPoolExecutor(2) as ex:
        for pid, prints in enumerate(mates):
            caps = list(ex.map(lambda p: adapter.capture(p[1], p[0]), prints))
            mate_templates[pid] = [c.template for c in caps]
            ident.fingers.add_templates(pid, mate_templates[pid])
    for pid in range(len(mates), people):
        picks = rng.choice(pool, size=10, replace=False)
        for pos, k in zip(range(1, 11), picks, strict=True):
            data = bytearray(fillers[k][0])
            data[24] = pos  # finger position byte of the ISO view header
            t = Template(FINGER, EXTRACTOR, EXTRACTOR_VERSION, ISO_19794_2_2005, bytes(data), pos, 50)
            ident.fingers.add_with_histogram(pid, t, fillers[k][1])
    ident.fingers._ensure()  # noqa: SLF001 - build the per-position indexes now, not inside a timed query
    ident.faces.build()
    return ident, centres, time.perf_counter() - t0


def section_enrolment(ident: Identifier, centres: np.ndarray, mates, photo: bytes) -> None:
    out("## Enrolment of one person (face + ten prints, quality included) to a 1:N answer")
    face_ad = FaceAdapter()
    finger_ad = FingerprintAdapter()  # NFIQ 2 on
    # The enrolled person 0 gets the real photo; the probe is a re-shot of it.
    ref = face_ad.capture(photo)
    ident.enrol(0, ref.template, [])
    probe_photo = reshoot(photo)
    prints = [(pos, later) for pos, _first, later in mates[0]]
    face_ad.capture(probe_photo)  # warm the models once: a station keeps them loaded
    finger_ad.capture(prints[0][1], prints[0][0])

    def enrol_once(workers: int):
        t0, c0 = time.perf_counter(), time.process_time()
        f = face_ad.capture(probe_photo)
        with ThreadPoolExecutor(workers) as ex:
            caps = list(ex.map(lambda p: finger_ad.capture(p[1], p[0]), prints))
        res = ident.identify(f.template, [c.template for c in caps])
        return time.perf_counter() - t0, res, caps, time.process_time() - c0

    seq_runs = [enrol_once(1) for _ in range(2)]
    seq = [r[0] for r in seq_runs]
    runs = [enrol_once(2) for _ in range(3)]
    times = [r[0] for r in runs]
    res = runs[-1][1]
    cpu = statistics.median(r[3] for r in seq_runs)
    out(f"- CPU time of one enrolment (all threads): {cpu:.2f} s; on an idle 2-core machine the 2-thread wall time "
        f"is about CPU / 2 = {cpu / 2:.2f} s (wall times below include waiting for other processes)")
    out(f"- gallery: {len(ident.fingers):,} people (faces and ten prints each)")
    out(f"- enrolment to answer, 2 threads: median {statistics.median(times):.2f} s (runs: "
        + ", ".join(f"{t:.2f}" for t in times) + "); target < 4 s")
    out(f"- baseline 1 thread: median {statistics.median(seq):.2f} s; ratio {statistics.median(seq) / statistics.median(times):.2f}x")
    out(f"- answer: {res.decision}, best candidate {res.best.subject_id if res.best else None}, "
        f"{res.comparisons} BOZORTH3 comparisons, strategy {res.strategy}")
    out(f"- NFIQ 2 of the ten probe prints: {sorted(c.nfiq2 for c in runs[-1][2])}")
    out("")


def section_verification(ident: Identifier, mates, photo: bytes) -> None:
    out("## 1:1 verification (fresh capture against the enrolled templates)")
    finger_ad = FingerprintAdapter(compute_quality=False)
    enrolled = [FingerprintAdapter(compute_quality=False).capture(p[1], p[0]).template for p in mates[1][:2]]
    probe_png = mates[1][0][2]
    verify(finger_ad.capture(probe_png, 1).template, enrolled)
    ft, fcpu = [], []
    for _ in range(7):
        t0, c0 = time.perf_counter(), time.process_time()
        r = verify(finger_ad.capture(probe_png, 1).template, enrolled)
        ft.append(time.perf_counter() - t0)
        fcpu.append(time.process_time() - c0)
    out(f"- one finger (MINDTCT on the fresh capture + BOZORTH3): median {ms(statistics.median(ft))} wall, "
        f"{ms(statistics.median(fcpu))} CPU, max {ms(max(ft))}; score {r.score:.0f} vs threshold {r.threshold:.0f} -> "
        f"{'pass' if r.passed else 'fail'}; target < 300 ms")
    nfiq_ad = FingerprintAdapter()
    ft2 = []
    for _ in range(3):
        t0 = time.perf_counter()
        nfiq_ad.capture(probe_png, 1)
        ft2.append(time.perf_counter() - t0)
    out(f"- the same capture with NFIQ 2 computed: median {ms(statistics.median(ft2))} (why verification skips it)")
    face_ad = FaceAdapter()
    ref = face_ad.capture(photo).template
    probe = reshoot(photo)
    face_ad.capture(probe)
    fc, fcc = [], []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        r = verify(face_ad.capture(probe).template, [ref])
        fc.append(time.perf_counter() - t0)
        fcc.append(time.process_time() - c0)
    out(f"- one face (detect + landmarks + embedding + cosine): median {ms(statistics.median(fc))} wall, "
        f"{ms(statistics.median(fcc))} CPU; "
        f"score {r.score:.3f} vs {r.threshold} -> {'pass' if r.passed else 'fail'}; target < 1 s")
    out("")


def section_finger_1n(ident: Identifier, centres: np.ndarray, mates, brute_people: int) -> None:
    out("## Fingerprint 1:N over the gallery, and the face-first cascade")
    adapter = FingerprintAdapter(compute_quality=False)
    probes = []
    for pid, prints in enumerate(mates):
        probes.append((pid, [adapter.capture(later, pos).template for pos, _first, later in prints]))
    ident.faces.build()
    qfaces = face_samples(centres[: len(mates)], seed=4242)

    def run(use_face: bool):
        times, hits, comps = [], 0, []
        for pid, tmpl in probes:
            face = face_template(qfaces[pid]) if use_face else None
            t0 = time.perf_counter()
            r = ident.identify(face, tmpl)
            times.append(time.perf_counter() - t0)
            hits += int(r.best is not None and r.best.subject_id == pid and r.decision == "match")
            comps.append(r.comparisons)
        return times, hits, comps

    ident.identify(None, probes[0][1])  # warm
    c0 = time.process_time()
    ft, fh, fc = run(False)
    out(f"- CPU per fingerprint-only query (both threads): {(time.process_time() - c0) / len(probes):.2f} s")
    ct, ch, cc = run(True)
    n = len(probes)
    out(f"- fingerprint-only (pair-histogram shortlist of {ident.finger_shortlist} people, then BOZORTH3 on all their fingers): "
        f"p50 {ms(pct(ft, 50))}, p95 {ms(pct(ft, 95))}, {statistics.mean(fc):.0f} comparisons/query, "
        f"mate found and auto-linked {fh}/{n}")
    out(f"- face-first cascade (face top {ident.face_k} + histogram top {ident.cascade_finger_shortlist}, BOZORTH3 on those): "
        f"p50 {ms(pct(ct, 50))}, p95 {ms(pct(ct, 95))}, {statistics.mean(cc):.0f} comparisons/query, "
        f"mate found and auto-linked {ch}/{n}; speed-up vs fingerprint-only {pct(ft, 50) / pct(ct, 50):.2f}x")
    # Baseline: BOZORTH3 on every finger of every person (what the shortlist avoids), timed on a slice.
    sl = list(range(len(mates), len(mates) + brute_people))
    t0 = time.perf_counter()
    ident.fingers.compare_subjects(probes[0][1], sl)
    per_person = (time.perf_counter() - t0) / brute_people
    t0 = time.perf_counter()
    ident.fingers.compare_subjects(probes[0][1], sl)
    per_person_warm = (time.perf_counter() - t0) / brute_people
    full = per_person_warm * len(ident.fingers)
    out(f"- baseline, exhaustive BOZORTH3 (10 fingers x every person), measured on {brute_people} people: "
        f"{ms(per_person_warm)} per person ({ms(per_person)} including first template load) -> "
        f"{full:.1f} s for {len(ident.fingers):,} people; shortlist speed-up {full / pct(ft, 50):.0f}x")
    out("")


def section_face_1n(n: int, queries: int, nprobe: int) -> None:
    out(f"## Face 1:N over {n:,} synthetic templates (identities as clusters, 2 samples each)")
    ids_n = n // 2
    centres = face_identities(ids_n, seed=7)
    a = face_samples(centres, seed=8)
    b = face_samples(centres, seed=9)
    vectors = np.empty((n, centres.shape[1]), dtype=np.float32)
    vectors[0::2], vectors[1::2] = a, b[: n - len(a)] if n % 2 else b
    ids = np.repeat(np.arange(ids_n, dtype=np.int64), 2)[:n]
    del a, b
    rng = np.random.default_rng(10)
    qids = rng.choice(ids_n, size=queries, replace=False)
    q = face_samples(centres[qids], seed=11)
    results = {}
    for mode in ("exact", "approximate"):
        base = rss_mb()
        g = FaceGallery(mode=mode, nprobe=nprobe)
        g.add(ids, vectors)
        t0 = time.perf_counter()
        g.build()
        build = time.perf_counter() - t0
        times, top = [], []
        for i in range(queries):
            t1 = time.perf_counter()
            r = g.search(q[i : i + 1], k=10)[0]
            times.append(time.perf_counter() - t1)
            top.append(r[0][0])
        results[mode] = (build, times, top, g.memory_bytes(), rss_mb() - base)
        correct = float(np.mean(np.asarray(top) == qids))
        out(f"- {mode}: build {build:.1f} s, p50 {ms(pct(times, 50))}, p95 {ms(pct(times, 95))} per single query, "
            f"index+vectors {results[mode][3] / 2**20:.0f} MiB, top-1 correct identity {correct:.4f}")
        del g
    agree = float(np.mean(np.asarray(results["exact"][2]) == np.asarray(results["approximate"][2])))
    out(f"- top-1 agreement approximate vs exact: {agree:.4f} over {queries} queries (target >= 0.99); "
        f"p50 speed-up {pct(results['exact'][1], 50) / pct(results['approximate'][1], 50):.1f}x "
        f"(IVF {'SQ8'}, nprobe {nprobe}, exact re-ranking of the candidates)")
    out("")


def _scores_worker(args: tuple[int, int]) -> list[tuple[int, bytes]]:
    finger, impressions = args
    m = master_print(finger_seed(finger, 2, base=3))
    return [(finger, png_bytes(impression(m, 7000 + finger * 10 + k))) for k in range(impressions)]


def section_calibration(fingers: int, det_path: Path | None) -> Thresholds:
    out("## Calibration (genuine/impostor distributions, thresholds at target FMR)")
    adapter = FingerprintAdapter(compute_quality=False)
    with ProcessPoolExecutor(2) as ex:
        pngs = [x for chunk in ex.map(_scores_worker, [(f, 3) for f in range(fingers)]) for x in chunk]
    with ThreadPoolExecutor(2) as ex:
        items = list(ex.map(lambda p: (p[0], adapter.capture(p[1], 2).template), pngs))
    g, i = calibration.labelled_scores(items, adapter.compare)
    fcal = calibration.calibrate("finger (synthetic)", g, i, target_fmr=1e-3)
    real = [(p.stem.split("_")[0], adapter.capture(p.read_bytes(), 2).template)
            for p in sorted((SHARED / "fingerprints" / "nbis-rs").glob("*.png"))]
    rg, ri = calibration.labelled_scores(real, adapter.compare)
    out(f"- synthetic fingers: {fcal.summary()['genuine_count']} genuine, {fcal.summary()['impostor_count']} impostor pairs; "
        f"genuine min {g.min():.0f} / mean {g.mean():.0f}, impostor max {i.max():.0f} / mean {i.mean():.1f}; "
        f"threshold for FMR 1e-3: {fcal.threshold:.0f} (FNMR {fcal.fnmr:.2%}, EER {fcal.eer:.2%})")
    out(f"- real prints (nbis-rs, 2 fingers x 3): genuine {sorted(rg.astype(int).tolist())}, impostor max {ri.max():.0f}")
    centres = face_identities(2000, seed=21)
    s1, s2 = face_samples(centres, seed=22), face_samples(centres, seed=23)
    fg = np.sum(s1 * s2, axis=1)
    fi = (s1[:500] @ s2[:500].T)[~np.eye(500, dtype=bool)]
    face_cal = calibration.calibrate("face (synthetic embeddings)", fg, fi, target_fmr=1e-4)
    out(f"- synthetic face embeddings: threshold for FMR 1e-4: {face_cal.threshold:.3f} (FNMR {face_cal.fnmr:.2%}); "
        "the real dlib model's impostor tail is heavier (see docs/biometrics.md)")
    if det_path is not None:
        det_path.write_bytes(calibration.det_png([fcal, face_cal], title="DET, synthetic data (flatters)"))
        out(f"- DET curve: {det_path}")
    out("")
    return Thresholds()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--people", type=int)
    ap.add_argument("--faces", type=int)
    ap.add_argument("--mates", type=int)
    ap.add_argument("--skip", nargs="*", default=[], help="sections to skip: enrol verify finger face calib")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    people = args.people or (1000 if args.quick else 10_000)
    nfaces = args.faces or (100_000 if args.quick else 1_000_000)
    nmates = args.mates or (3 if args.quick else 12)
    cmd = "python bench/biometrics.py " + " ".join(sys.argv[1:])
    out("# Biometrics benchmark")
    out("")
    out(f"Command: `.venv/bin/{cmd.strip()}`  ")
    out(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average at start {os.getloadavg()[0]:.1f} (other work shares the cores; figures are noisy)  ")
    out(f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    out("")
    t0 = time.perf_counter()
    photo = face_photo()
    need_gallery = {"enrol", "verify", "finger"} - set(args.skip)
    if need_gallery:
        with ProcessPoolExecutor(2) as ex:
            mates = list(ex.map(_person_prints, range(nmates)))
        ident, centres, build = build_gallery(people, mates, pool=min(6000, people * 2))
        out(f"Gallery: {people:,} people built in {build:.0f} s ({nmates} with image-derived prints, the rest "
            f"minutiae-level fillers drawn from a pool of {min(6000, people * 2):,} templates); images made in "
            f"{time.perf_counter() - t0:.0f} s in all")
        out("")
        if "enrol" not in args.skip:
            section_enrolment(ident, centres, mates, photo)
        if "verify" not in args.skip:
            section_verification(ident, mates, photo)
        if "finger" not in args.skip:
            section_finger_1n(ident, centres, mates, brute_people=50 if args.quick else 200)
        del ident
    if "face" not in args.skip:
        section_face_1n(nfaces, queries=300 if args.quick else 1000, nprobe=48)
    if "calib" not in args.skip:
        det = args.out.parent / "biometrics-det.png" if args.out else None
        section_calibration(10 if args.quick else 40, det)
    out(f"Total wall time {time.perf_counter() - t0:.0f} s; peak RSS {rss_mb():.0f} MiB")
    if args.out:
        args.out.write_text("\n".join(LINES) + "\n")


if __name__ == "__main__":
    main()
