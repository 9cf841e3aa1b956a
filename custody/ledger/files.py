"""Files attached to custody events: kept under their SHA-256, listed by hash in the signed events.

A clerk attaches a court order to a transfer to court, a death certificate to a death, a medical note
to a hospitalisation. The event's signed body carries only the hash, so the ledger proves which file
went with which event; the bytes are kept here, content-addressed, checked for what they claim to be
(the same checks as case attachments), and rehashed by `custody ledger verify`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from custody.cases.filetypes import MAX_BYTES, check_attachment
from custody.core.actions import action, note
from custody.core.errors import BadInput, RuleError

from .models import EventAttachment, EventFile, _event_file_path

_READ_CHUNK = 1 << 20


def store_file(user: Any, name: str, data: bytes) -> tuple[EventFile, bool]:
    """Keep `data` for attaching to events. Returns (file, created): the same bytes sent again, by
    anyone, are the same file, so a retried upload never makes a second copy."""
    content_type = check_attachment(name, data)
    digest = hashlib.sha256(data).hexdigest()
    existing = EventFile.objects.filter(sha256=digest).first()
    if existing is not None:
        # Bytes that hash to the name are the file: if the stored copy was lost or damaged (verify
        # says so), sending the original again restores it.
        _write_intact(existing.file.storage, existing.file.name, data, digest)
        return existing, False
    f = EventFile(sha256=digest, original_name=os.path.basename(name)[:255] or digest, content_type=content_type,
                  size=len(data), uploaded_by=user if getattr(user, "is_authenticated", False) else None)
    path = _event_file_path(f, name)
    _write_intact(f.file.storage, path, data, digest)
    f.file.name = path
    try:
        with transaction.atomic():
            f.save()
    except IntegrityError:
        return EventFile.objects.get(sha256=digest), False
    return f, True


@action("ledger.file_upload", capability="change")
def do_store_file(actor: Any, name: str, data: bytes) -> tuple[EventFile, bool]:
    """Keep an uploaded file for attaching to events (the API's upload): (the file, whether it is new)."""
    if not name and not data:
        raise BadInput(_("Send the file as the multipart field “file”."), field="file")
    try:
        f, created = store_file(actor, name, data)
    except RuleError as exc:
        raise BadInput(exc.message, field="file") from None
    note(f, sha256=f.sha256, created=created)
    return f, created


def do_record_with_files(actor: Any, spec: Any, files: list[tuple[str, bytes]]) -> tuple[Any, list[EventFile]]:
    """Keep `files` and record `spec` listing them, in one transaction and one audit row, under the same
    rules as any event (custody.ledger.services.do_record_event): a refused event keeps no file row (a
    file written to disk stays, content-addressed, for the next attempt). Returns (the event, the files)."""
    from .services import raise_refused_arrival

    try:
        return _record_with_files(actor, spec, files)
    except RuleError as exc:
        raise_refused_arrival(exc)
        raise


@action("ledger.record_with_files", capability="change")
def _record_with_files(actor: Any, spec: Any, files: list[tuple[str, bytes]]) -> tuple[Any, list[EventFile]]:
    from .services import do_record_event

    stored = []
    for name, data in files:
        try:
            stored.append(store_file(actor, name, data)[0])
        except RuleError as exc:
            raise BadInput(exc.message, field="files") from None
    recorded = do_record_event(actor, replace(spec, attachments=tuple(f.sha256 for f in stored)))
    note(files=[f.sha256 for f in stored])
    return recorded, stored


def _write_intact(storage: Any, path: str, data: bytes, digest: str) -> None:
    """Leave an intact copy of `data` at `path`. A file may already lie there: left by an upload whose
    transaction rolled back, written a moment ago by a concurrent upload of the same bytes (kept), or
    damaged since (replaced)."""
    if storage.exists(path) and _digest_of(storage, path) != digest:
        storage.delete(path)
    if not storage.exists(path):
        saved = storage.save(path, ContentFile(data))
        if saved != path:  # lost a race to an identical upload: its copy is ours too
            storage.delete(saved)


def read_upload(upload: Any) -> tuple[str, bytes]:
    """An uploaded file's name and bytes, refusing one over the size limit before reading it into memory."""
    if upload.size > MAX_BYTES:
        raise BadInput(_("Attachment “%(name)s” is larger than 50 MB.") % {"name": upload.name}, field="file")
    return upload.name, upload.read()


def people_of(f: EventFile, user: Any) -> list[str]:
    """The refs of the people whose events (visible to `user`) list the file: what a read of it is a read of."""
    from custody.core.access import restrict

    rows = restrict(EventAttachment.objects.filter(sha256=f.sha256), user).values_list("event__person__ref", flat=True)
    return sorted(set(rows))


def _digest_of(storage: Any, path: str) -> str:
    h = hashlib.sha256()
    with storage.open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_READ_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def held_files(hashes: Iterable[str]) -> dict[str, EventFile]:
    """The files held here among `hashes` (an event may list a file held by a partner only)."""
    wanted = set(hashes)
    return {f.sha256: f for f in EventFile.objects.filter(sha256__in=wanted)} if wanted else {}


@dataclass(frozen=True)
class FileProblem:
    seq: int | None
    message: str


def check_files(listed: dict[str, int], index_expected: set[tuple[int, str]]) -> list[FileProblem]:
    """For `custody ledger verify`: every held file still hashes to its name, and the attachment index
    says exactly what the signed bodies say. `listed` maps each hash to the first event listing it;
    `index_expected` is every (seq, hash) pair the bodies list."""
    problems: list[FileProblem] = []
    for f in EventFile.objects.order_by("id"):
        first = listed.get(f.sha256)
        label = _("file “%(name)s” (SHA-256 %(sha)s…)") % {"name": f.original_name, "sha": f.sha256[:12]}
        storage = f.file.storage
        if not storage.exists(f.file.name):
            problems.append(FileProblem(first, _("%(file)s is missing from storage") % {"file": label}))
        elif _digest_of(storage, f.file.name) != f.sha256:
            problems.append(FileProblem(first, _("%(file)s no longer matches its hash: it was changed after it was "
                                                 "attached") % {"file": label}))
    index = set(EventAttachment.objects.values_list("event__seq", "sha256"))
    for seq, sha in sorted(index - index_expected):
        problems.append(FileProblem(seq, _("event #%(seq)s: the attachment index lists file %(sha)s…, which the signed "
                                           "event does not") % {"seq": seq, "sha": sha[:12]}))
    for seq, sha in sorted(index_expected - index):
        problems.append(FileProblem(seq, _("event #%(seq)s: the signed event lists file %(sha)s…, which the attachment "
                                           "index lacks") % {"seq": seq, "sha": sha[:12]}))
    return problems



def copy_bundle_files(bundle: bytes, directory: Path) -> list[str]:
    """Copies the files that a bundle's events list, and that are held here, into `directory` under
    their original names (prefixed by the hash when two share a name); says what it did for each."""
    import json

    listed = sorted({h for entry in json.loads(bundle)["entries"] for h in entry["event"].get("attachments") or ()})
    held = held_files(listed)
    directory.mkdir(parents=True, exist_ok=True)
    lines, used = [], set()
    for h in listed:
        f = held.get(h)
        if f is None:
            lines.append(f"not held here: {h}")
            continue
        name = f.original_name if f.original_name not in used else f"{h[:12]}-{f.original_name}"
        used.add(name)
        with f.file.open("rb") as src:
            (directory / name).write_bytes(src.read())
        lines.append(f"copied {name} ({h})")
    return lines
