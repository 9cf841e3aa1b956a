"""`custody ledger <subcommand>`: verify, verify-bundle, rebuild, export-bundle, record, checkpoint,
reconcile, roll-call, handover-start, handover-confirm, resolve, delegate, revoke-delegation,
delegations, proof, public-key, keygen, key-encrypt, witness.

Every subcommand that changes custody records acts as a named user (`--as USER`, `--user USER` or
$CUSTODY_USER) through one action of custody.ledger.services, with that user's capabilities and under
the custodian rule; with no user it is refused (exit 3) and changes nothing.

`verify-bundle` is the partner's command: it reads one file and uses only the engine, so it works
with no database at all (the module imports the services lazily for the other subcommands).
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from custody.core.commands import CustodyCommand, add_actor_argument, resolve_actor
from custody.core.errors import BadInput
from custody.engines.ledger.verify import default_threads


class Command(CustodyCommand):
    help = "The custody ledger: verify the log, verify or export handover bundles, rebuild the projection, record events."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="sub", required=True)
        v = sub.add_parser("verify", help="recompute every event, node and checkpoint; name the first event that does not fit")
        v.add_argument("--threads", type=int, default=default_threads(),
                       help="threads for hashing the tree (default: one per core, at most 8)")
        v.add_argument("--user", help="username the recorded run is attributed to")
        v.add_argument("--witness", action="append", default=[], metavar="FILE",
                       help="a witness file (JSON lines of checkpoints, ours or a partner's): prove the log extends "
                            "every checkpoint in it (repeatable)")
        vb = sub.add_parser("verify-bundle", help="verify a handover bundle offline (no database)")
        vb.add_argument("file")
        vb.add_argument("--key-id", action="append", help="the log key id you trust (from the operator, out of band)")
        vb.add_argument("--attachment", action="append", default=[], metavar="PATH",
                        help="a file received with the bundle: check that an event in it lists the file (repeatable)")
        r = sub.add_parser("rebuild", help="rebuild the projection from the log")
        r.add_argument("--check", action="store_true", help="only compare; exit 1 if the stored projection differs")
        e = sub.add_parser("export-bundle", help="write a self-contained bundle of events with proofs")
        g = e.add_mutually_exclusive_group(required=True)
        g.add_argument("--handover", help="handover reference")
        g.add_argument("--seq", type=int, action="append", help="event sequence number (repeatable)")
        e.add_argument("--out", required=True)
        e.add_argument("--attachments-dir", metavar="DIR",
                       help="also copy the files the bundle's events list (those held here) into DIR, for the partner")
        rec = sub.add_parser("record", help="record one event")
        rec.add_argument("kind")
        rec.add_argument("person", help="person ref, e.g. P-000123")
        rec.add_argument("--at", help="when it happened (ISO 8601, UTC if no zone); default now")
        rec.add_argument("--facility")
        rec.add_argument("--custodian")
        rec.add_argument("--manifest", default="")
        rec.add_argument("--to-facility")
        rec.add_argument("--expected-arrival")
        rec.add_argument("--country", default="")
        rec.add_argument("--reason", default="")
        rec.add_argument("--corrects", type=int)
        add_actor_argument(rec)
        rec.add_argument("--idempotency-id", default="")
        rec.add_argument("--attach", action="append", default=[], metavar="FILE",
                         help="attach a file (repeat for several): kept under its SHA-256, which the event's signed body lists")
        sub.add_parser("checkpoint", help="sign a checkpoint at the current size")
        add_actor_argument(sub.add_parser("reconcile", help="raise discrepancies for overdue manifests"))
        hs = sub.add_parser("handover-start", help="open a handover: both sides then confirm person by person")
        hs.add_argument("facility")
        hs.add_argument("--from", dest="from_custodian", required=True, help="agency code handing over")
        hs.add_argument("--to", dest="to_custodian", required=True, help="agency code receiving")
        hs.add_argument("--people", nargs="+", required=True, help="person refs")
        hs.add_argument("--manifest", default="")
        add_actor_argument(hs)
        hc = sub.add_parser("handover-confirm", help="one side confirms one person of a handover")
        hc.add_argument("reference")
        hc.add_argument("person", help="person ref")
        hc.add_argument("--side", required=True, choices=["send", "receive"])
        hc.add_argument("--wristband", required=True, help="the wristband number read or typed")
        hc.add_argument("--identity-check", default="", help="receiving side: match, no_match, not_checked")
        add_actor_argument(hc)
        sub.add_parser("discrepancies", help="list the open discrepancies")
        rs = sub.add_parser("resolve", help="resolve a discrepancy with a recorded resolution")
        rs.add_argument("id", type=int)
        rs.add_argument("--resolution", required=True)
        add_actor_argument(rs)
        sub.add_parser("schedule", help="start the periodic checkpoint and reconciliation task (db_worker runs it)")
        sub.add_parser("housekeeping", help="run the periodic duties once, now: sign if due, reconcile")
        rc = sub.add_parser("roll-call", help="record a physical count")
        rc.add_argument("facility")
        rc.add_argument("counted", type=int)
        rc.add_argument("--block", default="")
        rc.add_argument("--note", default="")
        add_actor_argument(rc)
        dg = sub.add_parser("delegate", help="let another agency record for the people your agency holds (supervisor)")
        dg.add_argument("to_agency", help="agency code")
        dg.add_argument("--facility", help="only for the people at this facility")
        dg.add_argument("--from-date", dest="valid_from", help="first day (YYYY-MM-DD; default today)")
        dg.add_argument("--until", dest="valid_until", help="last day (YYYY-MM-DD; default until revoked)")
        dg.add_argument("--reason", required=True)
        add_actor_argument(dg)
        rv = sub.add_parser("revoke-delegation", help="end a delegation your agency granted (supervisor)")
        rv.add_argument("id", type=int)
        rv.add_argument("--reason", required=True)
        add_actor_argument(rv)
        sub.add_parser("delegations", help="list the delegations: who may record for whom")
        p = sub.add_parser("proof", help="print an event's inclusion proof against the latest checkpoint")
        p.add_argument("seq", type=int)
        sub.add_parser("public-key", help="print the log's public key and key id (give partners the key id)")
        kg = sub.add_parser("keygen", help="create the log's signing key, encrypted with the passphrase from "
                                           "CUSTODY_LEDGER_KEY_PASSPHRASE(_FILE); refused where a key exists")
        kg.add_argument("--out", help="key file (default: LEDGER_KEY_FILE)")
        ke = sub.add_parser("key-encrypt", help="encrypt an existing unencrypted signing key in place (same key)")
        ke.add_argument("--key", help="key file (default: LEDGER_KEY_FILE)")
        w = sub.add_parser("witness", help="keep the log's checkpoints in a witness file: fetch the latest with a "
                                           "consistency proof from the last one kept, check both, append")
        w.add_argument("file", help="the witness file (JSON lines; created on first use)")
        w.add_argument("--url", help="the Custody server (https://...); without it, the local database")
        w.add_argument("--token", help="API bearer token of the witnessing agency's account (or CUSTODY_WITNESS_TOKEN)")
        w.add_argument("--key-id", help="the log's key id, received out of band (required for the first checkpoint)")
        w.add_argument("--cosign-key", metavar="PEM", help="your Ed25519 key: countersign the checkpoint and send the "
                                                          "countersignature back (passphrase in CUSTODY_WITNESS_KEY_PASSPHRASE)")
        w.add_argument("--name", default="", help="the witness's name in its countersignature (default: the agency or host)")
        w.add_argument("--user", help="the local user the countersignature is recorded for (without --url)")

    def handle(self, *args: Any, **opts: Any) -> None:
        sub = opts["sub"].replace("-", "_")
        getattr(self, f"do_{sub}")(opts)

    # -- offline

    def do_verify_bundle(self, opts: dict[str, Any]) -> None:
        from custody.engines.ledger import verify_bundle
        from custody.engines.ledger.__main__ import format_report, read_files

        try:
            data = Path(opts["file"]).read_bytes()
            files = read_files(opts["attachment"])
        except OSError as exc:
            raise CommandError(f"cannot read {exc.filename}: {exc.strerror}") from exc
        report = verify_bundle(data, trusted_key_ids=opts["key_id"], files=files)
        self.stdout.write(format_report(report, opts["file"]))
        if not report.ok:
            sys.exit(1)

    # -- database

    def do_verify(self, opts: dict[str, Any]) -> None:
        from rich.console import Console

        from custody.ledger.integrity import verify_now

        console = Console(file=self.stderr._out if hasattr(self.stderr, "_out") else sys.stderr)
        with console.status("verifying") as status:
            # Recorded like a run from the page, so the overview shows when the log was last verified.
            run = verify_now(self._user(opts["user"]) if opts["user"] else None, "cli",
                             progress=lambda m: status.update(m), threads=opts["threads"],
                             witnesses=self._witnesses(opts["witness"]))
        if run.status == "ok":
            self.stdout.write(f"OK: {run.size} events, every leaf, node and {run.checkpoints} signed checkpoints verified;"
                              " the stored projection equals the log's replay")
            for name in opts["witness"]:
                self.stdout.write(f"OK: the log extends every checkpoint in {name}")
            return
        self.stdout.write(f"FAILED: first event that does not fit: #{run.first_bad_event}"
                          if run.first_bad_event is not None else "FAILED")
        for p in run.problems:
            self.stdout.write(f"  [{p['kind']}] {p['message']}")
        sys.exit(1)

    @staticmethod
    def _witnesses(names: list[str]) -> list[Any]:
        from custody.ledger.integrity import Witness

        out = []
        for name in names:
            try:
                out.append(Witness(name, Path(name).read_bytes()))
            except OSError as exc:
                raise CommandError(f"cannot read the witness file {name}: {exc.strerror}") from exc
        return out

    def do_rebuild(self, opts: dict[str, Any]) -> None:
        from custody.ledger.services import rebuild_projection

        diffs = rebuild_projection(check_only=opts["check"])
        if not diffs:
            self.stdout.write("OK: the stored projection equals the one rebuilt from the log")
            return
        for d in diffs[:50]:
            self.stdout.write(f"  {d}")
        if opts["check"]:
            self.stdout.write(f"DIFFERS: {len(diffs)} differences")
            sys.exit(1)
        self.stdout.write(f"REBUILT: {len(diffs)} differences put right from the log")

    def do_export_bundle(self, opts: dict[str, Any]) -> None:
        from custody.ledger.services import export_bundle, handover_bundle

        if opts["handover"]:
            data = handover_bundle(opts["handover"])
        else:
            data = export_bundle(opts["seq"], {"kind": "events", "seqs": sorted(set(opts["seq"]))})
        Path(opts["out"]).write_bytes(data)
        self.stdout.write(f"wrote {opts['out']} ({len(data)} bytes)")
        if opts["attachments_dir"]:
            from custody.ledger.files import copy_bundle_files

            for line in copy_bundle_files(data, Path(opts["attachments_dir"])):
                self.stdout.write(line)

    def do_record(self, opts: dict[str, Any]) -> None:
        from custody.cases.filetypes import MAX_BYTES
        from custody.ledger.files import do_record_with_files
        from custody.ledger.services import do_record_event
        from custody.ledger.specs import EventSpec

        def when(text: str | None) -> datetime | None:
            if not text:
                return None
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise BadInput(f"not a time (ISO 8601): {text}", field="--at") from None
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

        actor = resolve_actor(opts["user"])
        files = []
        for name in opts["attach"]:
            try:
                if Path(name).stat().st_size > MAX_BYTES:
                    raise CommandError(f"--attach {name}: larger than 50 MB")
                files.append((name, Path(name).read_bytes()))
            except OSError as exc:
                raise CommandError(f"--attach {name}: {exc.strerror}") from exc
        # Refs and codes as typed: the action looks each up through the actor's restriction.
        spec = EventSpec(opts["kind"], opts["person"], when(opts["at"]) or datetime.now(UTC), facility=opts["facility"],
                         custodian=opts["custodian"], manifest=opts["manifest"], to_facility=opts["to_facility"],
                         expected_arrival=when(opts["expected_arrival"]), country=opts["country"], reason=opts["reason"],
                         corrects=opts["corrects"], idempotency_id=opts["idempotency_id"] or f"cli-{uuid.uuid4()}")
        if files:
            rec, stored = do_record_with_files(actor, spec, files)
        else:
            rec, stored = do_record_event(actor, spec), []
        self.stdout.write(f"{'recorded' if rec.created else 'already recorded'}: event #{rec.event.seq} {rec.event.kind} {opts['person']}")
        for f in stored:
            self.stdout.write(f"  attached {f.original_name}: sha256 {f.sha256}")

    def do_checkpoint(self, opts: dict[str, Any]) -> None:
        from custody.ledger.services import sign_now

        row = sign_now()
        self.stdout.write("the ledger is empty" if row is None else f"checkpoint: {row.tree_size} events, signed {row.timestamp} by {row.key_id}")

    def do_reconcile(self, opts: dict[str, Any]) -> None:
        from custody.ledger.services import do_reconcile

        self.stdout.write(f"{do_reconcile(resolve_actor(opts['user']))} discrepancies raised")

    @staticmethod
    def _one(model: Any, what: str, **lookup: Any) -> Any:
        """The row, or an error that names what was typed (a clerk sees this, not a traceback)."""
        try:
            return model.objects.get(**lookup)
        except model.DoesNotExist as exc:
            raise CommandError(f"no {what} {next(iter(lookup.values()))}") from exc

    def _user(self, username: str) -> Any:
        from custody.accounts.models import User

        return self._one(User, "user", username=username)

    def _facility(self, code: str) -> Any:
        from custody.registry.models import Facility

        return self._one(Facility, "facility", code=code)

    def _agency(self, code: str) -> Any:
        from custody.accounts.models import Agency

        return self._one(Agency, "agency", code=code)

    def do_handover_start(self, opts: dict[str, Any]) -> None:
        from custody.ledger.services import do_create_handover

        h = do_create_handover(resolve_actor(opts["user"]), facility=opts["facility"], from_custodian=opts["from_custodian"],
                               to_custodian=opts["to_custodian"], people=opts["people"], manifest=opts["manifest"])
        self.stdout.write(f"handover {h.reference} open: {h.items.count()} people, {h.from_custodian.code} -> "
                          f"{h.to_custodian.code} at {h.facility.code}")

    def do_handover_confirm(self, opts: dict[str, Any]) -> None:
        from custody.ledger.services import do_confirm_handover

        rec = do_confirm_handover(resolve_actor(opts["user"]), reference=opts["reference"], person=opts["person"],
                                  side=opts["side"], wristband=opts["wristband"], identity_check=opts["identity_check"])
        if rec is None:
            self.stdout.write(f"{opts['person']}: {opts['side']} side confirmed; waiting for the other side")
        else:
            self.stdout.write(f"{opts['person']}: handed over, event #{rec.event.seq}")

    def do_discrepancies(self, opts: dict[str, Any]) -> None:
        from custody.ledger.models import Discrepancy

        open_ = Discrepancy.objects.filter(resolved_at__isnull=True).order_by("raised_at")
        for d in open_:
            self.stdout.write(f"#{d.pk}\t{d.kind}\t{d.raised_at:%Y-%m-%d %H:%M}\t{d.details}")
        self.stdout.write(f"{open_.count()} open")

    def do_resolve(self, opts: dict[str, Any]) -> None:
        from custody.ledger.services import do_resolve_discrepancy

        d = do_resolve_discrepancy(resolve_actor(opts["user"]), opts["id"], resolution=opts["resolution"])
        self.stdout.write(f"discrepancy #{d.pk} resolved")

    def do_delegate(self, opts: dict[str, Any]) -> None:
        from custody.ledger.services import do_delegate

        d = do_delegate(resolve_actor(opts["user"]), to_agency=opts["to_agency"], facility=opts["facility"],
                        valid_from=opts["valid_from"], valid_until=opts["valid_until"], reason=opts["reason"])
        self.stdout.write(f"delegation #{d.pk}: {d.to_agency.code} records for {d.from_agency.code}"
                          f"{' at ' + d.facility.code if d.facility else ''} from {d.valid_from}"
                          f"{' until ' + str(d.valid_until) if d.valid_until else ' until revoked'}")

    def do_revoke_delegation(self, opts: dict[str, Any]) -> None:
        from custody.ledger.services import do_revoke_delegation

        d = do_revoke_delegation(resolve_actor(opts["user"]), opts["id"], reason=opts["reason"])
        self.stdout.write(f"delegation #{d.pk} revoked")

    def do_delegations(self, opts: dict[str, Any]) -> None:
        from custody.ledger.models import Delegation

        for d in Delegation.objects.select_related("from_agency", "to_agency", "facility").order_by("id"):
            state = f"revoked {d.revoked_at:%Y-%m-%d}" if d.revoked_at else "in force" if d.in_force(timezone.localdate()) else "not in force today"
            self.stdout.write(f"#{d.pk}\t{d.from_agency.code} -> {d.to_agency.code}\t{d.facility.code if d.facility else '*'}\t"
                              f"{d.valid_from}..{d.valid_until or ''}\t{state}\t{d.reason}")

    def do_schedule(self, opts: dict[str, Any]) -> None:
        from custody.ledger.tasks import schedule

        started, ident = schedule()
        self.stdout.write(f"{'started' if started else 'already scheduled'}: task {ident}")

    def do_housekeeping(self, opts: dict[str, Any]) -> None:
        from custody.ledger.tasks import ledger_housekeeping

        out = ledger_housekeeping.call(reschedule=False)
        signed = f"checkpoint signed at {out['checkpoint']} events" if out["checkpoint"] else "no checkpoint due"
        self.stdout.write(f"{signed}; {out['raised']} discrepancies raised")

    def do_roll_call(self, opts: dict[str, Any]) -> None:
        from custody.ledger.services import do_record_roll_call

        rc, disc = do_record_roll_call(resolve_actor(opts["user"]), facility=opts["facility"], counted=opts["counted"],
                                       block=opts["block"], remark=opts["note"])
        self.stdout.write(f"counted {rc.counted}, ledger {rc.expected}" + (f": discrepancy #{disc.pk} raised" if disc else ": agrees"))

    def do_proof(self, opts: dict[str, Any]) -> None:
        from custody.ledger.services import inclusion_for, latest_checkpoint, sign_now

        cp = latest_checkpoint()
        if cp is None or cp.tree_size <= opts["seq"]:
            cp = sign_now()
        if cp is None:
            raise CommandError("the ledger is empty")
        for h in inclusion_for(opts["seq"], cp.tree_size):
            self.stdout.write(h.hex())
        self.stdout.write(f"# against checkpoint {cp.tree_size} root {bytes(cp.root_hash).hex()}")

    def do_public_key(self, opts: dict[str, Any]) -> None:
        from custody.engines.ledger import public_raw
        from custody.engines.ledger.checkpoint import b64
        from custody.ledger.services import public_key_id, signing_key

        self.stdout.write(f"key id {public_key_id()}\npublic key (base64, raw Ed25519) {b64(public_raw(signing_key().public_key()))}")

    # -- signing key and witnesses

    def do_keygen(self, opts: dict[str, Any]) -> None:
        from django.conf import settings

        from custody.ledger.signing import SigningKeyError, create_key, passphrase

        path = Path(opts["out"] or settings.LEDGER_KEY_FILE)
        try:
            kid = create_key(path, passphrase())
        except SigningKeyError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"created {path}: key id {kid} (give partners this key id; keep the passphrase apart "
                          "from the key)")

    def do_key_encrypt(self, opts: dict[str, Any]) -> None:
        from django.conf import settings

        from custody.ledger.signing import SigningKeyError, encrypt_key, passphrase

        path = Path(opts["key"] or settings.LEDGER_KEY_FILE)
        secret = passphrase()
        if not secret:
            raise CommandError("give the passphrase in CUSTODY_LEDGER_KEY_PASSPHRASE or CUSTODY_LEDGER_KEY_PASSPHRASE_FILE")
        try:
            kid = encrypt_key(path, secret)
        except (SigningKeyError, OSError, ValueError) as exc:
            raise CommandError(f"{path}: {exc}") from exc
        self.stdout.write(f"encrypted {path}: key id {kid}, unchanged")

    def do_witness(self, opts: dict[str, Any]) -> None:
        import os
        import socket
        import urllib.error

        from custody.core.errors import RuleError
        from custody.ledger import witnessing

        path = Path(opts["file"])
        try:
            last = witnessing.last_kept(path)
        except witnessing.WitnessRefused as exc:
            raise CommandError(f"{path}: {exc}") from exc
        from_size = last.tree_size if last else None
        token = opts["token"] or os.environ.get("CUSTODY_WITNESS_TOKEN", "")
        try:
            if opts["url"]:
                offered = witnessing.fetch_offer(opts["url"], token, from_size)
            else:
                offered = witnessing.offer(from_size)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise CommandError(f"cannot fetch the checkpoint from {opts['url']}: {exc}") from exc
        except RuleError as exc:
            raise CommandError(exc.message) from exc
        cosigner = self._cosigner(opts["cosign_key"]) if opts["cosign_key"] else None
        user = self._user(opts["user"]) if opts["user"] else None
        name = opts["name"] or (user.agency.code if user is not None and user.agency else socket.gethostname())
        try:
            kept = witnessing.keep(path, offered, pinned_key_id=opts["key_id"], witness_name=name, cosigner=cosigner)
        except witnessing.WitnessRefused as exc:
            self.stdout.write(f"REFUSED: {exc}")
            sys.exit(1)
        if not kept.appended:
            self.stdout.write(f"nothing new: the log is still at the checkpoint kept at {kept.checkpoint.tree_size} events")
            return
        since = f" (consistent with the one kept at {kept.previous_size})" if kept.previous_size is not None else ""
        self.stdout.write(f"kept checkpoint at {kept.checkpoint.tree_size} events, signed {kept.checkpoint.timestamp}"
                          f"{since} in {path}")
        if kept.cosignature is None:
            return
        payload = witnessing.cosignature_payload(kept)
        if opts["url"]:
            try:
                witnessing.post_cosignature(opts["url"], token, payload)
            except (urllib.error.URLError, OSError) as exc:
                raise CommandError(f"the countersignature is in {path} but could not be sent: {exc}") from exc
        else:
            try:
                witnessing.receive_cosignature(payload, user=user)
            except RuleError as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(f"countersigned as {name} (key {kept.cosignature.key_id}) and sent")

    @staticmethod
    def _cosigner(pem: str) -> Any:
        import os

        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        secret = os.environ.get("CUSTODY_WITNESS_KEY_PASSPHRASE")
        try:
            key = serialization.load_pem_private_key(Path(pem).read_bytes(), password=secret.encode() if secret else None)
        except (OSError, ValueError, TypeError) as exc:
            raise CommandError(f"cannot open the countersigning key {pem}: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise CommandError(f"{pem} does not hold an Ed25519 private key")
        return key
