"""The matching CLI, run as a user runs it: `python -m custody dedupe|link|dedupe-eval` in a subprocess."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engines.linkage.synthetic import people, write

ROOT = Path(__file__).resolve().parents[2]


def custody(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "custody", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def roster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("cli") / "roster.csv", people(120, seed=5))


def test_dedupe_writes_every_row_with_cluster_and_score(roster: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    res = custody("dedupe", str(roster), "--out", str(out))
    assert res.returncode == 0, res.stderr
    rows_in, rows_out = read(roster), read(out)
    assert len(rows_out) == len(rows_in)
    assert list(rows_out[0])[: len(rows_in[0])] == list(rows_in[0])  # input columns kept, in order
    assert {"cluster_id", "score"} <= set(rows_out[0])
    # rows of one identity mostly share a cluster; different identities rarely do
    same = diff = same_ok = diff_ok = 0
    for i, a in enumerate(rows_out):
        for b in rows_out[i + 1:]:
            if a["identity_id"] == b["identity_id"]:
                same += 1
                same_ok += a["cluster_id"] == b["cluster_id"]
            else:
                diff += 1
                diff_ok += a["cluster_id"] != b["cluster_id"]
    assert same_ok / same > 0.75 and diff_ok / diff > 0.99
    assert "clusters" in res.stderr


def test_link_two_lists(tmp_path: Path) -> None:
    rows = people(80, seed=9)
    a = write(tmp_path / "a.csv", [r for r in rows if r["script"] == "Arab"])
    b = write(tmp_path / "b.csv", [r for r in rows if r["script"] == "Latn"])
    out = tmp_path / "linked.csv"
    res = custody("link", str(a), str(b), "--out", str(out))
    assert res.returncode == 0, res.stderr
    linked = read(out)
    assert len(linked) == len(read(a)) + len(read(b))
    assert {r["source"] for r in linked} == {"a.csv", "b.csv"}
    by_cluster: dict[str, set[str]] = {}
    for r in linked:
        by_cluster.setdefault(r["cluster_id"], set()).add(r["identity_id"])
    mixed = [c for c, ids in by_cluster.items() if len(ids) > 1]
    assert len(mixed) <= 2
    both = [r for r in linked if r["source"] == "a.csv" and r["best_match_source"] == "b.csv"]
    assert both and sum(1 for r in both if r["best_match_name"]) == len(both)


def test_dedupe_eval_prints_the_measures(roster: Path) -> None:
    res = custody("dedupe-eval", str(roster), "--truth", "identity_id", "--json")
    assert res.returncode == 0, res.stderr
    figures = json.loads(res.stdout)
    assert figures["F1"] > 0.8
    assert figures["recall@1"] > 0.85
    assert figures["Arabic-script recall@1"] > 0.85
    table = custody("dedupe-eval", str(roster), "--truth", "identity_id")
    assert "Arabic-script recall@1" in table.stdout and "F1" in table.stdout


def test_bad_input_gives_clear_messages(tmp_path: Path) -> None:
    nameless = write(tmp_path / "nameless.csv", [{"id": "1", "surname": "Jubouri"}])
    res = custody("dedupe", str(nameless), "--out", str(tmp_path / "x.csv"))
    assert res.returncode != 0
    assert "no name column" in res.stderr and "id, surname" in res.stderr
    assert "Traceback" not in res.stderr

    missing = custody("dedupe", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "x.csv"))
    assert missing.returncode != 0 and "no such file" in missing.stderr

    odd = write(tmp_path / "odd.csv", [
        {"name": "Mohammed Ali", "dob": "1987-02-30"},
        {"name": "", "dob": "1990"},
        {"name": "李小龙", "dob": "1970"},
        {"name": "محمد علي", "dob": "1987"},
    ])
    out = tmp_path / "odd-out.csv"
    res = custody("dedupe", str(odd), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "row 1, column 'dob'" in res.stderr and "not a real date" in res.stderr
    assert "row 2, column 'name'" in res.stderr
    assert len(read(out)) == 4  # nothing silently dropped

    no_truth = custody("dedupe-eval", str(odd), "--truth", "identity_id")
    assert no_truth.returncode != 0 and "no truth column 'identity_id'" in no_truth.stderr


def test_oversized_file_is_refused_with_the_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("w", encoding="utf-8") as fh:
        fh.write("name\n")
        fh.writelines(f"Person {i}\n" for i in range(1200))
    res = custody("dedupe", str(big), "--out", str(tmp_path / "o.csv"), "--max-rows", "1000")
    assert res.returncode != 0
    assert "more than 1,000 rows" in res.stderr and "--max-rows" in res.stderr
