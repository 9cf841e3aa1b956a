"""Server time of the pages people open most, on the seeded demo at real scale (46,000 people, 95,000
ledger events), through Django's test client (no network; the time is the application's).

    .venv/bin/python bench/pages.py [--scale real] [--seed 2026] [--db PATH] [--repeat 5]

Builds (or reuses) a SQLite database with the demo. For the two pages whose cost grew with the log, it
times in the same run the way they used to compute their figures, as the baseline:
  - the common picture (/coordination/): today's figures from the projection and a trend that replays
    only the window's people, against the report builder's replay of the whole log;
  - the ledger overview (/ledger/): the latest visible events read by seq in windows, against the one
    restricted ORDER BY seq DESC LIMIT 25 query.
Prints the median of `--repeat` runs of each and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_db import ensure_demo  # noqa: E402

PAGES = ["/", "/ledger/", "/ledger/facilities/HSK/", "/ledger/discrepancies/", "/ledger/handovers/",
         "/coordination/", "/coordination/warnings/", "/coordination/sitrep/", "/camps/", "/planning/"]


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm: templates compiled, caches filled
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="real")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--db", default=None, help="reuse this SQLite file (generated if missing)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    ensure_demo(args.db, args.scale, args.seed)

    import django

    django.setup()
    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from custody.accounts.models import User
    from custody.coordination import sitrep
    from custody.core.access import restrict
    from custody.ledger.models import LedgerEvent
    from custody.ledger.services import latest_visible_events
    from custody.registry.models import Person

    settings.ALLOWED_HOSTS = ["*"]
    print(f"database: {Person.objects.count():,} people, {LedgerEvent.objects.count():,} ledger events; "
          f"median of {args.repeat} runs")
    for username in ("cio.supervisor", "sdf.clerk"):
        user = User.objects.get(username=username)
        client = Client()
        client.force_login(user)
        print(f"\nas {username}")
        for path in PAGES:
            status = client.get(path).status_code
            print(f"  {path:28s} {status}  {median_ms(lambda p=path, c=client: c.get(p), args.repeat):8.1f} ms")

        today = timezone.localdate()
        base = median_ms(lambda u=user, d=today: sitrep.build(d, u.agency, u), args.repeat)
        fast = median_ms(lambda u=user, d=today: sitrep.build(d, u.agency, u, replay=False), args.repeat)
        print(f"  common picture's figures: whole-log replay {base:8.1f} ms, projection + window {fast:8.1f} ms"
              f"  ({base / fast:.1f}x)")
        base = median_ms(lambda u=user: list(restrict(LedgerEvent.objects.select_related("person", "facility", "custodian"), u)
                                             .order_by("-seq")[:25]), args.repeat)
        fast = median_ms(lambda u=user: latest_visible_events(u, 25), args.repeat)
        print(f"  latest 25 visible events: restricted query  {base:8.1f} ms, seq windows          {fast:8.1f} ms"
              f"  ({base / fast:.1f}x)")


if __name__ == "__main__":
    main()
