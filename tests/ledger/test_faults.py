"""Faults and concurrency with real processes on a real database file (or PostgreSQL database):
a process killed in the middle of an append, and two clerks recording the same departure at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = str(Path(__file__).with_name("ledger_child.py"))

pytestmark = pytest.mark.slow


@pytest.fixture
def live_database(tmp_path: Path, ledger_key: Path) -> Any:
    """A migrated database of its own, reachable from other processes; yields their environment."""
    url = os.environ.get("DATABASE_URL", "")
    created = None
    if url.startswith("postgres"):
        import psycopg

        created = f"ledger_live_{uuid.uuid4().hex[:10]}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{created}"')
        live_url = f"postgres://postgres@127.0.0.1:5432/{created}"
    else:
        live_url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": live_url, "CUSTODY_VAR_DIR": str(tmp_path / "var"),
           "CUSTODY_LEDGER_KEY_FILE": str(ledger_key), "CUSTODY_LEDGER_CHECKPOINT_EVENTS": "30",
           "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "custody", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    yield env
    if created:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')


def child(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, CHILD, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def counts(env: dict[str, str]) -> dict[str, Any]:
    return json.loads(child(env, "counts").strip().splitlines()[-1])


def test_killing_the_process_mid_append_leaves_no_event_without_its_tree_place(live_database: dict[str, str]) -> None:
    env = live_database
    child(env, "setup", "200")
    proc = subprocess.Popen([sys.executable, CHILD, "append", "4"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    committed = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("COMMITTED"):
            committed.append(int(line.split()[1]))
        if line.startswith("EVENTS-INSERTED-NODES-NOT"):
            break
    else:
        pytest.fail("the child never reached the pause: " + (proc.stderr.read() if proc.stderr else ""))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert committed == [40, 80, 120]
    after = counts(env)
    # The fourth batch died between inserting its events and its nodes: none of it is there.
    assert after["events"] == after["leaves"] == after["head"] == 120 and after["max_seq"] == 119
    verify = subprocess.run([sys.executable, "-m", "custody", "ledger", "verify"], env=env, cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "OK: 120 events" in verify.stdout
    # And the log carries on from where the last commit left it.
    rebuild = subprocess.run([sys.executable, "-m", "custody", "ledger", "rebuild", "--check"], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=False)
    assert rebuild.returncode == 0, rebuild.stdout


def test_two_clerks_recording_the_same_departure_at_once_make_one_event(live_database: dict[str, str],
                                                                         tmp_path: Path) -> None:
    env = live_database
    child(env, "setup", "3")
    child(env, "prepare-departure")
    for round_, ids in enumerate([("tablet-a", "tablet-b"), ("same-request", "same-request")]):
        go = tmp_path / f"go-{round_}"
        clerks = [subprocess.Popen([sys.executable, CHILD, "depart", f"sdf.clerk.{c}", str(go), f"{i}-{round_}"],
                                   env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for c, i in zip("ab", ids, strict=True)]
        import time

        time.sleep(8)  # both processes are set up and waiting on the flag
        go.write_text("go")
        results = []
        for p in clerks:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err[-3000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
        assert results[0]["seq"] == results[1]["seq"]
        if round_ == 0:
            assert sorted(r["created"] for r in results) == [False, True]
        assert counts(env)["departures"] == 1
