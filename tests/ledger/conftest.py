"""Ledger fixtures: a signing key per test, two facilities and officers on each side of a handover."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def ledger_key(tmp_path: Any, settings: Any) -> Any:
    from custody.ledger import services

    settings.LEDGER_KEY_FILE = tmp_path / "ledger-key.pem"
    settings.LEDGER_WITNESS_FILE = str(tmp_path / "ledger-witness.jsonl")
    settings.LEDGER_CHECKPOINT_EVENTS = 5
    services._key_for.cache_clear()
    yield settings.LEDGER_KEY_FILE
    services._key_for.cache_clear()


@pytest.fixture
def world(agencies: dict[str, Any], facility_factory: Any, make_user: Any) -> dict[str, Any]:
    return {
        "prison": facility_factory("HSK", custodian="SDF", kind="prison"),
        "biap": facility_factory("BIAP", custodian="IRQ", kind="receiving", country="IQ"),
        "hospital": facility_factory("HOSP", custodian="SDF", kind="hospital"),
        "sdf": make_user("SDF", "clerk"),
        "mil": make_user("MIL", "clerk"),
        "irq": make_user("IRQ", "clerk"),
        "sup": make_user("CIO", "supervisor"),
        "agencies": agencies,
    }


T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def transfer(world: dict[str, Any]) -> Any:
    """Records the whole journey of one person: intake at HSK, manifest, handover to MIL, departure,
    arrival at BIAP, handover to IRQ. Returns the list of recorded events."""
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec

    def run(person: Any, manifest: str = "M-1", start: int = 0) -> list[Any]:
        w, a = world, world["agencies"]
        specs = [
            EventSpec("intake", person, at(start), facility=w["prison"]),
            EventSpec("manifested", person, at(start + 10), manifest=manifest, to_facility=w["biap"],
                      expected_arrival=at(start + 180)),
            EventSpec("handed_over", person, at(start + 20), custodian=a["MIL"], sending_officer=w["sdf"],
                      receiving_officer=w["mil"], identity_check="match"),
            EventSpec("departed", person, at(start + 30), facility=w["prison"], manifest=manifest),
            EventSpec("arrived", person, at(start + 120), facility=w["biap"], manifest=manifest),
            EventSpec("handed_over", person, at(start + 130), custodian=a["IRQ"], sending_officer=w["mil"],
                      receiving_officer=w["irq"], identity_check="match"),
        ]
        # Loaded as code loads histories (the system actor): the custodian rule has its own tests
        # (test_custodian_matrix.py); these are about the log.
        return [record_event(s).event for s in specs]

    return run


ROOT = Path(__file__).resolve().parents[2]


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
           "CUSTODY_LEDGER_WITNESS_FILE": str(tmp_path / "ledger-witness.jsonl"),
           "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "custody", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    yield env
    if created:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')
