"""`custody bio enrol|identify|verify|import|export|calibrate`.

import, export (from image files) and calibrate work on files alone; enrol, identify, verify, import
--person, export --person and calibrate --save use the database and act as --as USER: the same actions as
the pages and the API, audited and attributed the same way, refused without a user. Every refusal exits
non-zero (the exit code of its kind) with the engine's precise message; nothing is stored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from custody.biometrics import services
from custody.core import audit
from custody.core.commands import CustodyCommand, add_actor_argument, resolve_actor
from custody.core.errors import Refusal
from custody.engines.biometrics import ansi_nist, calibration
from custody.engines.biometrics.errors import BiometricError
from custody.engines.biometrics.fingerprint import (
    FINGER_POSITIONS,
    FingerprintAdapter,
    encode_wsq,
    load_fingerprint,
)
from custody.engines.biometrics.identify import Thresholds

IMAGE_SUFFIXES = {".png", ".wsq", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".jp2"}


def _finger_args(values: list[str] | None) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for v in values or []:
        pos, _sep, path = v.partition("=")
        if not path or not pos.isdigit() or int(pos) not in FINGER_POSITIONS or int(pos) == 0:
            raise CommandError(f"--finger takes POSITION=FILE with POSITION 1-10 (ANSI/NIST FGP); got {v!r}")
        out[int(pos)] = _read(path)
    return out


def _read(path: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise CommandError(f"no such file: {path}")
    return p.read_bytes()


class Command(CustodyCommand):
    help = "Biometrics: enrol, identify, verify, import/export ANSI/NIST-ITL, calibrate thresholds."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="sub", required=True)

        def user_arg(p: Any, required: bool = True) -> None:
            # Never required by the parser: an action refuses a missing user itself, with its audit row.
            add_actor_argument(p, help="the user the action is recorded under")

        p = sub.add_parser("enrol", help="enrol a person's face and fingerprints, or every ready set in a drop folder")
        p.add_argument("--person")
        p.add_argument("--face")
        p.add_argument("--finger", action="append", metavar="POS=FILE")
        p.add_argument("--drop", help="scanner drop folder (REF_face.jpg, REF_01.png ..., REF.ready)")
        p.add_argument("--station", default="cli")
        p.add_argument("--accept-low-quality", action="store_true")
        user_arg(p)

        p = sub.add_parser("identify", help="search the gallery with a face and/or fingerprints")
        p.add_argument("--face")
        p.add_argument("--finger", action="append", metavar="POS=FILE")
        p.add_argument("--station", default="cli")
        p.add_argument("--json", action="store_true")
        user_arg(p)

        p = sub.add_parser("verify", help="1:1: a fresh capture against a person's enrolled templates")
        p.add_argument("--person", required=True)
        p.add_argument("--face")
        p.add_argument("--finger", metavar="POS=FILE")
        p.add_argument("--handover", default="")
        p.add_argument("--station", default="cli")
        user_arg(p)

        p = sub.add_parser("import", help="check an ANSI/NIST-ITL file; with --person, enrol its images")
        p.add_argument("file")
        p.add_argument("--person")
        p.add_argument("--station", default="cli-import")
        p.add_argument("--json", action="store_true")
        user_arg(p, required=False)

        p = sub.add_parser("export", help="write an ANSI/NIST-ITL transaction from image files or a person's record")
        p.add_argument("--out", required=True)
        p.add_argument("--person", help="export this person's enrolled images (needs --user)")
        p.add_argument("--face", help="face photo (JPEG or PNG, kept byte for byte)")
        p.add_argument("--finger", action="append", metavar="POS=FILE", help="500 ppi fingerprint; stored as WSQ")
        p.add_argument("--name", default="", help="Type-2 field 2.018 (name)")
        p.add_argument("--tot", default="CAR")
        p.add_argument("--ori", default="CUSTODY")
        p.add_argument("--dai", default="PARTNER")
        p.add_argument("--tcn", default="")
        user_arg(p, required=False)

        p = sub.add_parser("calibrate", help="genuine/impostor scores on a labelled set, thresholds, DET curve")
        p.add_argument("--modality", choices=["finger", "face"], default="finger")
        p.add_argument("--data", help="folder of IDENTITY/SAMPLE images (two or more samples per identity)")
        p.add_argument("--synthetic", type=int, default=0, help="use N synthetic fingers (3 impressions each) or face identities")
        p.add_argument("--target-fmr", type=float, default=1e-3)
        p.add_argument("--det", help="write the DET curve PNG here")
        p.add_argument("--save", metavar="NAME", help="store the proposed thresholds as a threshold set")
        p.add_argument("--activate", action="store_true")
        user_arg(p, required=False)

    def handle(self, *args: Any, **opts: Any) -> None:
        self.console = Console(file=self.stdout, width=120)
        try:
            getattr(self, f"do_{opts['sub']}")(opts)
        except BiometricError as exc:
            raise CommandError(str(exc)) from exc

    # -- helpers --

    def _user(self, opts: dict[str, Any]) -> Any:
        return resolve_actor(opts.get("user"))

    def _show_identification(self, ident: Any, as_json: bool = False) -> None:
        if as_json:
            self.stdout.write(json.dumps({"id": ident.pk, "decision": ident.decision, "strategy": ident.strategy,
                                          "candidates": ident.candidates, "thresholds": ident.thresholds}))
            return
        self.console.print(f"decision: [bold]{ident.decision}[/bold] ({ident.strategy}, {ident.comparisons} finger comparisons)")
        t = Table("candidate", "face", "fingers", "decision")
        for c in ident.candidates[:10]:
            t.add_row(c["person_ref"], str(c["face_score"]), " ".join(f"{k}:{v}" for k, v in c["finger_scores"].items()), c["decision"])
        self.console.print(t)

    # -- subcommands --

    def do_enrol(self, opts: dict[str, Any]) -> None:
        user = self._user(opts)
        if opts["drop"]:
            results = services.ingest_drop(user, Path(opts["drop"]), station=opts["station"])
            for ref, outcome, _e in results:
                self.console.print(f"{ref}: {'enrolled' if outcome == 'ok' else 'refused: ' + outcome}")
            if not results:
                self.console.print("no complete set in the drop folder")
            return
        if not opts["person"]:
            raise CommandError("give --person REF (or --drop FOLDER)")
        enrolment = services.do_enrol(user, opts["person"], face=_read(opts["face"]) if opts["face"] else None,
                                      fingers=_finger_args(opts["finger"]), station=opts["station"],
                                      accept_low_quality=opts["accept_low_quality"])
        self.console.print(f"enrolled {enrolment.person.ref} (enrolment {enrolment.pk})")
        self._show_identification(enrolment.identification)

    def do_identify(self, opts: dict[str, Any]) -> None:
        user = self._user(opts)
        ident = services.do_search(user, face=_read(opts["face"]) if opts["face"] else None,
                                   fingers=_finger_args(opts["finger"]), station=opts["station"])
        self._show_identification(ident, opts["json"])

    def do_verify(self, opts: dict[str, Any]) -> None:
        user = self._user(opts)
        if bool(opts["face"]) == bool(opts["finger"]):
            raise CommandError("give exactly one of --face FILE or --finger POS=FILE")
        if opts["face"]:
            v = services.do_verify(user, opts["person"], modality="face", image=_read(opts["face"]), station=opts["station"],
                                   handover_ref=opts["handover"])
        else:
            (pos, data), = _finger_args([opts["finger"]]).items()
            v = services.do_verify(user, opts["person"], modality="finger", image=data, position=pos, station=opts["station"],
                                   handover_ref=opts["handover"])
        person = v.person
        self.console.print(f"{person.ref}: {'PASS' if v.passed else 'FAIL'} (score {v.score:.3f}, threshold {v.threshold:.3f})")
        if not v.passed:
            raise CommandError(f"verification failed for {person.ref}")

    def do_import(self, opts: dict[str, Any]) -> None:
        data = _read(opts["file"])
        if opts["person"]:
            user = self._user(opts)
            enrolment = services.do_import_transaction(user, data, person=opts["person"], station=opts["station"])
            self._show_identification(enrolment.identification)
            return
        tx = ansi_nist.import_transaction(data)
        summary = {
            "file": opts["file"], "tot": tx.tot, "version": tx.version, "control_number": tx.control_number,
            "name": tx.name, "faces": [{"idc": f.idc, "compression": f.compression, "size": [f.width, f.height], "sha256": f.sha256} for f in tx.faces],
            "fingerprints": [{"idc": f.idc, "type": f.record_type, "position": f.position, "compression": f.compression,
                              "size": [f.width, f.height], "sha256": f.sha256} for f in tx.fingerprints],
            "skipped": tx.skipped,
        }
        if opts["json"]:
            self.stdout.write(json.dumps(summary))
            return
        self.console.print(f"[green]valid[/green] {opts['file']}: TOT {tx.tot}, version {tx.version}, "
                           f"{len(tx.faces)} face(s), {len(tx.fingerprints)} fingerprint(s)")
        for s in tx.skipped:
            self.console.print(f"  not imported: {s}")

    def do_export(self, opts: dict[str, Any]) -> None:
        if opts["person"]:
            user = self._user(opts)
            person = services.reach_person(user, opts["person"])
            try:
                data = services.export_person(user, person, destination=opts["dai"], originating=opts["ori"], tot=opts["tot"])
            except Refusal as exc:
                # An export is a read: refused, it is audited here; CustodyCommand ends with the message and exit code.
                audit.record(None, "cli_bio_export", obj=person, user=user, outcome="denied", reason=exc.message)
                raise
            audit.record(None, "cli_bio_export", obj=person, user=user, bytes=len(data))
        else:
            faces = []
            if opts["face"]:
                face = _read(opts["face"])
                if not (face.startswith(b"\xff\xd8") or face.startswith(b"\x89PNG")):
                    face = ansi_nist.image_to_jpeg(face)
                faces.append(ansi_nist.ExportFace(face, opts["ori"]))
            fingers = []
            for pos, raw in _finger_args(opts["finger"]).items():
                img = load_fingerprint(raw, what=f"{FINGER_POSITIONS[pos]} image")
                wsq = raw if img.source_format == "WSQ" else encode_wsq(img.pixels)
                fingers.append(ansi_nist.ExportFinger(wsq, pos))
            data = ansi_nist.export_transaction(
                tot=opts["tot"], originating_agency=opts["ori"], destination_agency=opts["dai"],
                control_number=opts["tcn"] or Path(opts["out"]).stem, biographic={18: opts["name"]} if opts["name"] else {},
                faces=faces, fingers=fingers,
            )
        Path(opts["out"]).write_bytes(data)
        self.console.print(f"wrote {opts['out']} ({len(data):,} bytes)")

    def do_calibrate(self, opts: dict[str, Any]) -> None:
        modality = opts["modality"]
        if opts["synthetic"]:
            items = self._synthetic_items(modality, opts["synthetic"])
        elif opts["data"]:
            items = self._folder_items(modality, Path(opts["data"]))
        else:
            raise CommandError("give --data FOLDER (IDENTITY/SAMPLE images) or --synthetic N")
        if modality == "finger":
            adapter = FingerprintAdapter(compute_quality=False)
            genuine, impostor = calibration.labelled_scores(items, adapter.compare)
        else:
            from custody.engines.biometrics.face import FaceAdapter

            genuine, impostor = calibration.labelled_scores(items, FaceAdapter.similarity)
        try:
            cal = calibration.calibrate(modality, genuine, impostor, opts["target_fmr"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        summary = cal.summary()
        defaults = Thresholds()
        if modality == "finger":
            proposed = Thresholds(**{**defaults.to_dict(), "finger_verify": int(cal.threshold), "finger_match": max(int(cal.threshold), defaults.finger_match)})
        else:
            proposed = Thresholds(**{**defaults.to_dict(), "face_verify": round(cal.threshold, 4), "face_match": max(round(cal.threshold, 4), defaults.face_match)})
        self.console.print(json.dumps(summary, indent=1))
        if not summary["target_supported"]:
            self.console.print(f"[yellow]warning[/yellow]: {summary['impostor_count']} impostor scores cannot support an FMR of "
                               f"{opts['target_fmr']:g}; the smallest measurable is {summary['fmr_floor']:.2g}")
        self.console.print(f"proposed thresholds: {json.dumps(proposed.to_dict())}")
        png = calibration.det_png([cal], title=f"DET, {modality}")
        if opts["det"]:
            Path(opts["det"]).write_bytes(png)
            self.console.print(f"DET curve written to {opts['det']}")
        if opts["save"]:
            ts = services.do_save_calibration(self._user(opts), opts["save"], proposed, summary, png, opts["activate"])
            self.console.print(f"saved threshold set {ts.pk} {'(active)' if ts.active else ''}")

    def _folder_items(self, modality: str, folder: Path) -> list[tuple[str, Any]]:
        if not folder.is_dir():
            raise CommandError(f"no such folder: {folder}")
        items = []
        for ident_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            for f in sorted(ident_dir.iterdir()):
                if f.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                try:
                    if modality == "finger":
                        t = FingerprintAdapter(compute_quality=False).capture(f.read_bytes(), 0).template
                    else:
                        from custody.engines.biometrics.face import FaceAdapter

                        t = FaceAdapter().capture(f.read_bytes()).template
                except BiometricError as exc:
                    raise CommandError(f"{f}: {exc}") from exc
                items.append((ident_dir.name, t))
        if len({label for label, _t in items}) < 2:
            raise CommandError(f"{folder} must hold at least two identity folders with images")
        return items

    def _synthetic_items(self, modality: str, n: int) -> list[tuple[str, Any]]:
        from custody.engines.biometrics import synthetic

        if modality == "face":
            centres = synthetic.face_identities(n, seed=31)
            return [(str(i), synthetic.face_template(v)) for k in range(2)
                    for i, v in enumerate(synthetic.face_samples(centres, seed=32 + k))]
        adapter = FingerprintAdapter(compute_quality=False)
        items = []
        for finger in range(n):
            master = synthetic.master_print(synthetic.finger_seed(finger, 2, base=9))
            for k in range(3):
                png = synthetic.png_bytes(synthetic.impression(master, finger * 10 + k))
                items.append((str(finger), adapter.capture(png, 2).template))
        return items
