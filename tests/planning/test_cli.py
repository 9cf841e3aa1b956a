"""The real `custody` CLI in a subprocess: plan, plan-check, plan-compare, plan-scenario."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engines.planner.conftest import tiny_dict

ROOT = Path(__file__).resolve().parents[2]


def custody(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "custody", *args], capture_output=True, text=True, cwd=ROOT, timeout=600)


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    d = tmp_path_factory.mktemp("cli")
    scenario, plan = d / "s.json", d / "p.json"
    scenario.write_text(json.dumps(tiny_dict()))
    return scenario, plan, custody("plan", str(scenario), "--out", str(plan), "--time-limit", "20")


def test_plan_writes_a_valid_plan_with_bound_and_greedy(planned) -> None:
    scenario, plan, res = planned
    assert res.returncode == 0, res.stderr
    assert "checker: valid" in res.stdout and "greedy" in res.stdout and "lower bound" in res.stdout
    data = json.loads(plan.read_text())
    assert data["format"] == "custody-planning-plan/1" and data["vehicles"]
    assert data["summary"]["lower_bound"] <= data["summary"]["cost"]
    check = custody("plan-check", str(scenario), str(plan))
    assert check.returncode == 0 and "every rule holds" in check.stdout


def test_plan_check_fails_and_names_each_violation(planned, tmp_path: Path) -> None:
    scenario, plan, _ = planned
    data = json.loads(plan.read_text())
    first, second = data["vehicles"][0], data["vehicles"][1]
    second["manifest"].append(first["manifest"][0])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    res = custody("plan-check", str(scenario), str(bad))
    assert res.returncode != 0
    assert "[moved-twice]" in res.stdout and first["manifest"][0] in res.stdout
    assert "violations" in res.stderr


def test_plan_compare_prints_plan_greedy_and_bound(planned) -> None:
    scenario, plan, _ = planned
    res = custody("plan-compare", str(scenario), str(plan))
    assert res.returncode == 0, res.stderr
    for row in ("lower bound", "plan", "greedy", "do nothing", "below greedy"):
        assert row in res.stdout


def test_plan_scenario_is_seeded(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert custody("plan-scenario", "--scale", "small", "--seed", "4", "--out", str(a)).returncode == 0
    assert custody("plan-scenario", "--scale", "small", "--seed", "4", "--out", str(b)).returncode == 0
    assert a.read_bytes() == b.read_bytes()
    assert json.loads(a.read_text())["format"] == "custody-planning-scenario/1"


def test_malformed_and_infeasible_scenarios_are_refused_in_words(tmp_path: Path) -> None:
    data = tiny_dict()
    data["sites"][0]["danger"][2] = "high"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    res = custody("plan", str(bad), "--out", str(tmp_path / "p.json"))
    assert res.returncode != 0 and "sites/0/danger/2" in res.stderr
    data = tiny_dict()
    data["sites"][1]["lz_sorties"] = 0
    data["sites"][1]["road_open"] = [False] * 5
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps(data))
    res = custody("plan", str(cut), "--out", str(tmp_path / "p.json"))
    assert res.returncode != 0 and "[reach]" in res.stderr and "no vehicle can reach it" in res.stderr
