"""Offline bundle verifier for partners: `python -m custody.engines.ledger verify-bundle FILE [--key-id ID]`.

Needs only this package and `cryptography`; it opens no database and no network connection.
Exit status 0 = verified, 1 = rejected, 2 = usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .bundle import BundleReport, verify_bundle


def format_report(report: BundleReport, path: str) -> str:
    lines = []
    if report.ok:
        cp = report.checkpoint
        assert cp is not None
        lines.append(f"VERIFIED {path}")
        lines.append(f"  signing key {report.key_id}; checkpoint: {cp.tree_size} events at {cp.timestamp}")
        if report.subject:
            lines.append("  subject: " + ", ".join(f"{k}={v}" for k, v in sorted(report.subject.items())))
        for index, event in report.events:
            attached = f" files={len(event['attachments'])}" if event.get("attachments") else ""
            lines.append(
                f"  #{index} {event.get('kind')} person={event.get('person')} at={event.get('occurred_at')} "
                f"facility={event.get('facility')} custodian={event.get('custodian')}{attached}"
            )
        for name, digest, indexes in report.files:
            lines.append(f"  file {name}: SHA-256 {digest} is attached to " + ", ".join(f"#{i}" for i in indexes))
    else:
        lines.append(f"REJECTED {path}")
        lines.extend(f"  error: {e}" for e in report.errors)
    lines.extend(f"  warning: {w}" for w in report.warnings)
    return "\n".join(lines)


def read_files(paths: list[str]) -> dict[str, bytes]:
    """The files given with --attachment, by the name given; OSError names the one that cannot be read."""
    return {path: Path(path).read_bytes() for path in paths}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m custody.engines.ledger")
    sub = parser.add_subparsers(dest="command", required=True)
    vb = sub.add_parser("verify-bundle", help="verify a handover bundle offline")
    vb.add_argument("file")
    vb.add_argument("--key-id", action="append", help="trusted signing key id (repeatable)")
    vb.add_argument("--attachment", action="append", default=[], metavar="PATH",
                    help="a file received with the bundle: check that an event in it lists the file (repeatable)")
    args = parser.parse_args(argv)
    try:
        data = Path(args.file).read_bytes()
        files = read_files(args.attachment)
    except OSError as exc:
        print(f"cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    report = verify_bundle(data, trusted_key_ids=args.key_id, files=files)
    print(format_report(report, args.file))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
