"""Galleries for 1:N search.

Faces: a FAISS index of unit embeddings. Up to ``exact_limit`` templates (1,000,000 by default) the search is
exact inner product (IndexFlatIP). Above it an IVF index with 8-bit scalar quantisation proposes a wider
candidate list and every candidate is re-scored exactly against the float32 vectors kept beside it, so the
scores reported are always exact even when the candidate list is approximate.

Fingerprints: BOZORTH3 compares one pair at a time (a few milliseconds), far too slow to scan ten fingers
of 10,000 people. The gallery therefore keeps, per finger position, a FAISS index of a rotation- and
translation-invariant "minutiae pair histogram" (distance and both relative angles of nearby minutiae
pairs). It shortlists people by the summed histogram similarity over all probe fingers, and BOZORTH3
then scores every finger of the shortlisted people. With a face, the cascade skips the histogram and
runs BOZORTH3 on the face search's best candidates only.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import faiss
import numpy as np

from .errors import BiometricInputError, TemplateMismatchError
from .face import DIM, embedding_of
from .fingerprint import FingerprintAdapter, Minutia, parse_iso_19794_2
from .templates import FACE, FINGER, Template

EXACT_LIMIT = 1_000_000


class _single_thread:
    """FAISS parallelises one query over OpenMP threads; for a single query the thread start-up and
    barrier spinning cost more than the scan (and much more on a busy machine), so use one thread."""

    def __enter__(self) -> None:
        self.before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        faiss.omp_set_num_threads(self.before)


class _Grow:
    """An append-only array with doubling capacity: enrolment adds one row without copying the gallery."""

    def __init__(self, shape: tuple[int, ...], dtype: type) -> None:
        self.buf = np.zeros((1024, *shape), dtype=dtype)
        self.n = 0

    def extend(self, rows: np.ndarray) -> None:
        need = self.n + len(rows)
        if need > len(self.buf):
            bigger = np.zeros((max(need, 2 * len(self.buf)), *self.buf.shape[1:]), dtype=self.buf.dtype)
            bigger[: self.n] = self.buf[: self.n]
            self.buf = bigger
        self.buf[self.n : need] = rows
        self.n = need

    @property
    def data(self) -> np.ndarray:
        return self.buf[: self.n]


class FaceGallery:
    """Face embeddings keyed by an integer subject id (several templates per subject allowed).

    In exact mode the vectors live only inside the flat FAISS index (read back through a zero-copy view
    for per-subject scores); in approximate mode the float32 vectors are kept beside the quantised
    index for exact re-ranking.
    """

    def __init__(self, dim: int = DIM, exact_limit: int = EXACT_LIMIT, mode: str = "auto", nprobe: int = 48) -> None:
        if mode not in {"auto", "exact", "approximate"}:
            raise ValueError("mode must be auto, exact or approximate")
        self.dim = dim
        self.exact_limit = exact_limit
        self.mode = mode
        self.nprobe = nprobe
        self.kind: tuple[str, str, str] | None = None
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._ids = _Grow((), np.int64)
        self._store: _Grow | None = None
        self._index: faiss.Index | None = None
        self._rows_by_id: dict[int, list[int]] | None = None

    def __len__(self) -> int:
        return self._ids.n + sum(len(i) for i, _v in self._pending)

    @property
    def approximate(self) -> bool:
        return self.mode == "approximate" or (self.mode == "auto" and len(self) > self.exact_limit)

    def add_templates(self, subject_id: int, templates: Iterable[Template]) -> None:
        for t in templates:
            if t.modality != FACE:
                raise BiometricInputError("only face templates go into the face gallery", "bad_template")
            if self.kind is None:
                self.kind = t.kind
            elif t.kind != self.kind:
                raise TemplateMismatchError(
                    f"gallery holds {self.kind[1]} {self.kind[2]} templates; refusing {t.extractor} {t.version}: "
                    "re-extract the gallery or the probe with one extractor"
                )
            self.add(np.array([subject_id], dtype=np.int64), embedding_of(t)[None, :])

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected (n, {self.dim}) vectors")
        self._pending.append((np.asarray(ids, dtype=np.int64), vectors))

    def _vectors(self) -> np.ndarray:
        if self._store is not None:
            return self._store.data
        if self._index is None or self._index.ntotal == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        n = self._index.ntotal
        return faiss.rev_swig_ptr(self._index.get_xb(), n * self.dim).reshape(n, self.dim)

    def build(self) -> None:
        """(Re)build the index from everything added: a flat index, or an IVF one trained by k-means."""
        vectors = np.concatenate([self._vectors(), *(v for _i, v in self._pending)])
        for ids, _v in self._pending:
            self._ids.extend(ids)
        self._pending = []
        self._rows_by_id = None
        n = len(vectors)
        if not self.approximate:
            index = faiss.IndexFlatIP(self.dim)
            if n:
                index.add(vectors)
            self._index, self._store = index, None
            return
        # ~2 sqrt(n) lists and 40 training points per list (FAISS warns below 39): k-means stays
        # within seconds at a million vectors, and re-ranking absorbs the coarser partition.
        nlist = max(16, int(2 * math.sqrt(n)))
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, self.dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        rng = np.random.default_rng(0)
        index.train(vectors[rng.choice(n, size=min(n, 40 * nlist), replace=False)])
        index.add(vectors)
        index.nprobe = self.nprobe
        store = _Grow((self.dim,), np.float32)
        store.extend(vectors)
        self._index, self._store = index, store

    def _ensure(self) -> None:
        if self._index is None or (self.approximate and self._store is None):
            self.build()
            return
        if not self._pending:
            return
        # Incremental: enrolment must not rebuild (or copy) a million vectors. A trained IVF index takes
        # new vectors in its existing lists.
        for ids, v in self._pending:
            self._index.add(v)
            self._ids.extend(ids)
            if self._store is not None:
                self._store.extend(v)
        self._pending = []
        self._rows_by_id = None

    def subject_score(self, subject_id: int, query: np.ndarray) -> float | None:
        """Best exact similarity of one subject's templates to the query (None if not enrolled)."""
        self._ensure()
        if self._rows_by_id is None:
            rows: dict[int, list[int]] = defaultdict(list)
            for r, sid in enumerate(self._ids.data.tolist()):
                rows[sid].append(r)
            self._rows_by_id = rows
        found = self._rows_by_id.get(subject_id)
        if not found:
            return None
        return float((self._vectors()[found] @ query).max())

    def search(self, queries: np.ndarray, k: int = 10) -> list[list[tuple[int, float]]]:
        """Best ``k`` subjects per query as (subject id, cosine similarity), exact scores, best first."""
        self._ensure()
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        n = self._ids.n
        if n == 0:
            return [[] for _ in range(len(q))]
        # Ask for more rows than subjects wanted: one subject may hold several templates.
        rows_wanted = min(n, k * 4 if not self.approximate else max(k * 8, 64))
        if len(q) == 1:
            with _single_thread():
                _scores, rows = self._index.search(q, rows_wanted)
        else:
            _scores, rows = self._index.search(q, rows_wanted)
        out = []
        for qi in range(len(q)):
            r = rows[qi][rows[qi] >= 0]
            exact = self._vectors()[r] @ q[qi]
            ids = self._ids.data
            best: dict[int, float] = {}
            for row, s in zip(r, exact, strict=True):
                sid = int(ids[row])
                if s > best.get(sid, -2.0):
                    best[sid] = float(s)
            out.append(sorted(best.items(), key=lambda kv: -kv[1])[:k])
        return out

    def memory_bytes(self) -> int:
        """Index + kept vectors + ids (the flat index's vectors are counted once: they are not copied)."""
        self._ensure()
        idx = faiss.serialize_index(self._index).nbytes if self._index is not None else 0
        store = self._store.buf.nbytes if self._store is not None else 0
        return int(idx + store + self._ids.buf.nbytes)


# Minutiae pair histogram: distance bins x angle bins x angle bins.
_D_MIN, _D_MAX, _D_BINS, _A_BINS, _NEIGHBOURS = 16.0, 176.0, 10, 8, 8
PAIR_DIM = _D_BINS * _A_BINS * _A_BINS


def pair_histogram(minutiae: Sequence[Minutia]) -> np.ndarray:
    """Unit-length, rotation- and translation-invariant summary of a minutiae set for shortlisting."""
    vec = np.zeros(PAIR_DIM, dtype=np.float32)
    if len(minutiae) < 2:
        return vec
    xy = np.array([(m.x, m.y) for m in minutiae], dtype=np.float32)
    # ISO angles run counter-clockwise with y up; image rows grow downwards, hence the minus.
    th = np.radians(np.array([m.angle for m in minutiae], dtype=np.float32))
    diff = xy[None, :, :] - xy[:, None, :]
    dist = np.hypot(diff[..., 0], diff[..., 1])
    phi = np.arctan2(-diff[..., 1], diff[..., 0])
    np.fill_diagonal(dist, np.inf)
    order = np.argsort(dist, axis=1)[:, :_NEIGHBOURS]
    i = np.repeat(np.arange(len(minutiae)), order.shape[1])
    j = order.reshape(-1)
    d = dist[i, j]
    ok = (d >= _D_MIN) & (d < _D_MAX)
    i, j, d = i[ok], j[ok], d[ok]
    two_pi = 2 * np.pi
    a1 = np.mod(th[i] - phi[i, j], two_pi) / two_pi * _A_BINS
    a2 = np.mod(th[j] - phi[i, j], two_pi) / two_pi * _A_BINS
    db = (d - _D_MIN) / (_D_MAX - _D_MIN) * _D_BINS
    # Soft assignment along distance: MINDTCT positions jitter by a few pixels between impressions.
    a12 = (a1.astype(np.int64) % _A_BINS) * _A_BINS + a2.astype(np.int64) % _A_BINS
    for shift, weight in ((0.0, 1.0), (0.5, 0.5), (-0.5, 0.5)):
        dbi = np.clip((db + shift).astype(np.int64), 0, _D_BINS - 1)
        vec += weight * np.bincount(dbi * _A_BINS * _A_BINS + a12, minlength=PAIR_DIM).astype(np.float32)
    vec = np.sqrt(vec)
    n = float(np.linalg.norm(vec))
    return vec / n if n > 0 else vec


@dataclass
class FingerScores:
    subject_id: int
    # finger position -> BOZORTH3 score for the probe finger at that position
    per_finger: dict[int, int] = field(default_factory=dict)

    @property
    def best(self) -> int:
        return max(self.per_finger.values(), default=0)

    def count_at_least(self, threshold: int) -> int:
        return sum(1 for s in self.per_finger.values() if s >= threshold)


class FingerGallery:
    """Fingerprint templates by subject and finger position, with a histogram shortlist for 1:N."""

    def __init__(self, workers: int = 2) -> None:
        self.adapter = FingerprintAdapter(compute_quality=False)
        self.kind: tuple[str, str, str] | None = None
        self._templates: dict[tuple[int, int], Template] = {}
        # BOZORTH3-ready objects, made on first comparison: loading 100,000 templates up front costs minutes.
        self._loaded: dict[tuple[int, int], object] = {}
        self._hist_rows: dict[int, list[np.ndarray]] = defaultdict(list)
        self._hist_ids: dict[int, list[int]] = defaultdict(list)
        self._index: dict[int, faiss.IndexFlatIP] = {}
        self._index_ids: dict[int, np.ndarray] = {}
        self._dirty: set[int] = set()
        self._subjects: set[int] = set()
        self._pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None

    def __len__(self) -> int:
        return len(self._subjects)

    def add_templates(self, subject_id: int, templates: Iterable[Template]) -> None:
        for t in templates:
            self.add_with_histogram(subject_id, t, pair_histogram(parse_iso_19794_2(t.data)[3]))

    def add_with_histogram(self, subject_id: int, t: Template, histogram: np.ndarray) -> None:
        """Add one template whose pair histogram is already known (bulk loading skips recomputing it)."""
        if t.modality != FINGER:
            raise BiometricInputError("only fingerprint templates go into the finger gallery", "bad_template")
        if self.kind is None:
            self.kind = t.kind
        elif t.kind != self.kind:
            raise TemplateMismatchError(
                f"gallery holds {self.kind[1]} {self.kind[2]} templates; refusing {t.extractor} {t.version}"
            )
        self._templates[(subject_id, t.position)] = t
        self._loaded.pop((subject_id, t.position), None)
        self._hist_rows[t.position].append(histogram)
        self._hist_ids[t.position].append(subject_id)
        self._dirty.add(t.position)
        self._subjects.add(subject_id)

    def _ensure(self) -> None:
        for pos in self._dirty:
            index = faiss.IndexFlatIP(PAIR_DIM)
            index.add(np.stack(self._hist_rows[pos]))
            self._index[pos] = index
            self._index_ids[pos] = np.asarray(self._hist_ids[pos], dtype=np.int64)
        self._dirty.clear()

    def shortlist(self, probes: Sequence[Template], n: int = 30, per_finger: int = 300) -> list[tuple[int, float]]:
        """Subjects ranked by summed pair-histogram similarity over the probe fingers."""
        self._ensure()
        totals: dict[int, float] = defaultdict(float)
        for t in probes:
            positions = [t.position] if t.position in self._index else []
            if t.position == 0:
                positions = list(self._index)
            q = pair_histogram(parse_iso_19794_2(t.data)[3])[None, :]
            for pos in positions:
                index = self._index[pos]
                k = min(per_finger, index.ntotal)
                with _single_thread():
                    scores, rows = index.search(q, k)
                best: dict[int, float] = {}
                for r, s in zip(rows[0], scores[0], strict=True):
                    if r >= 0:
                        sid = int(self._index_ids[pos][r])
                        best[sid] = max(best.get(sid, 0.0), float(s))
                for sid, s in best.items():
                    totals[sid] += s
        return sorted(totals.items(), key=lambda kv: -kv[1])[:n]

    def compare_subjects(self, probes: Sequence[Template], subject_ids: Iterable[int]) -> list[FingerScores]:
        """BOZORTH3 every probe finger against the same finger of each subject (all fingers if position 0)."""
        for t in probes:
            if self.kind is not None and t.kind != self.kind:
                raise TemplateMismatchError(
                    f"probe made by {t.extractor} {t.version}; gallery holds {self.kind[1]} {self.kind[2]}"
                )
        loaded_probes = [(t.position, self.adapter.load(t)) for t in probes]
        subject_ids = list(subject_ids)
        wanted = set(subject_ids)
        jobs: list[tuple[int, int, object]] = []
        for pos, probe in loaded_probes:
            if pos == 0:
                jobs.extend((sid, p2, probe) for (sid, p2) in self._templates if sid in wanted)
            else:
                jobs.extend((sid, pos, probe) for sid in subject_ids if (sid, pos) in self._templates)
        results = {sid: FingerScores(sid) for sid in subject_ids}

        def run(job: tuple[int, int, object]) -> tuple[int, int, int]:
            sid, pos, probe = job
            ref = self._loaded.get((sid, pos))
            if ref is None:
                ref = self._loaded[(sid, pos)] = self.adapter.load(self._templates[(sid, pos)])
            return sid, pos, int(probe.compare(ref))

        outs = self._pool.map(run, jobs, chunksize=16) if self._pool else map(run, jobs)
        for sid, pos, score in outs:
            fs = results[sid]
            fs.per_finger[pos] = max(fs.per_finger.get(pos, 0), score)
        return list(results.values())

    def compare_subject(self, probe: Template, subject_id: int) -> int:
        return self.compare_subjects([probe], [subject_id])[0].best
