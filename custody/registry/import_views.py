"""Import pages: choose a file, map its columns, preview, validate, commit; list and undo batches."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custody.core import audit
from custody.core.access import can, restrict
from custody.core.errors import RuleError
from custody.registry import importer, services, tasks, uploads
from custody.registry.models import Facility, ImportBatch


def _require_import(request: HttpRequest) -> None:
    if not can(request.user, "import"):
        audit.record(request, "import", outcome="denied")
        raise PermissionDenied


def _upload_path(token: str) -> Path:
    if not token.isalnum():
        raise Http404
    return uploads.upload_dir() / token


def import_start(request: HttpRequest) -> HttpResponse:
    _require_import(request)
    error = ""
    if request.method == "POST" and request.FILES.get("file"):
        upload = request.FILES["file"]
        try:
            # The declared size first: an oversized upload is refused without being read into memory.
            importer.check_upload_size(upload.size)
            data = upload.read()
            importer.read_table(data, upload.name)
        except importer.ImportFileError as exc:
            error = str(exc)
            audit.record(request, "import_upload", outcome="failed", file=upload.name, error=error)
        else:
            token = secrets.token_hex(16)
            uploads.upload_dir().mkdir(parents=True, exist_ok=True)
            _upload_path(token).write_bytes(data)
            tasks.schedule_sweep()  # gone after UPLOAD_MAX_AGE_HOURS unless imported
            request.session[f"import_{token}"] = {"name": upload.name, "source": request.POST.get("source", "")}
            return redirect("registry:import_map", token=token)
    return render(request, "registry/import_start.html", {"error": error, "page_classification": 1})


def import_map(request: HttpRequest, token: str) -> HttpResponse:
    _require_import(request)
    meta = request.session.get(f"import_{token}")
    path = _upload_path(token)
    if request.method == "POST" and request.session.get(f"import_done_{token}"):
        # A retried or double-submitted Import button: the upload was committed once, never twice.
        messages.info(request, _("This file was already imported."))
        return redirect("registry:batch_list")
    if not meta or not path.exists():
        raise Http404
    table = importer.read_table(path.read_bytes(), meta["name"])
    mapping = importer.propose_mapping(table.headers)
    errors: list[importer.RowError] = []
    previous = importer.previous_imports(table, request.user)
    duplicate_refused = False
    if request.method == "POST":
        mapping = {h: request.POST.get(f"map_{i}", "") for i, h in enumerate(table.headers)}
        mapping = {h: t for h, t in mapping.items() if t}
        targets = list(mapping.values())
        dupes = {t for t in targets if targets.count(t) > 1}
        if dupes:
            errors = [importer.RowError(1, ", ".join(h for h, t in mapping.items() if t in dupes), _("two columns are mapped to the same field"))]
        else:
            codes = set(restrict(Facility.objects.all(), request.user).values_list("code", flat=True))
            parsed, errors = importer.validate(table, mapping, codes)
            if not errors and request.POST.get("action") == "commit":
                # Claim the upload before writing: rename is atomic, so of two concurrent submits of the
                # same form only one commits; the other finds the file gone.
                claimed = path.with_name(f"{token}.committing")
                try:
                    path.rename(claimed)
                except FileNotFoundError:
                    messages.info(request, _("This file was already imported."))
                    return redirect("registry:batch_list")
                try:
                    # The action checks, writes and audits (custody.registry.services.do_import).
                    batch = services.do_import(request.user, table, mapping, source=meta.get("source", ""),
                                               allow_duplicate=request.POST.get("allow_duplicate") == "1")
                except importer.DuplicateImport:
                    claimed.rename(path)
                    duplicate_refused = True
                except BaseException:
                    claimed.rename(path)
                    raise
                else:
                    claimed.unlink(missing_ok=True)
                    del request.session[f"import_{token}"]
                    request.session[f"import_done_{token}"] = batch.pk
                    messages.success(request, _("Imported %(n)d people from %(f)s.") % {"n": len(parsed), "f": table.file_name})
                    return redirect("registry:batch_list")
            if errors:
                audit.record(request, "import_validate", outcome="failed", file=table.file_name, errors=len(errors))
    return render(request, "registry/import_map.html", {
        "table": table, "preview": table.rows[:15], "mapping": mapping, "targets": importer.TARGET_FIELDS,
        "errors": errors[:200], "error_count": len(errors), "validated": request.method == "POST" and not errors,
        "columns": list(enumerate(table.headers)), "page_classification": 1,
        "previous": [importer.duplicate_message(b) for b in previous], "duplicate_refused": duplicate_refused,
    })


def batch_list(request: HttpRequest) -> HttpResponse:
    _require_import(request)
    from django.db.models import Count, Q

    batches = restrict(ImportBatch.objects.select_related("user"), request.user).annotate(
        taken_in=Count("people", filter=Q(people__current_facility__isnull=False)))
    return render(request, "registry/batch_list.html", {"batches": batches[:100], "page_classification": 1})


@require_POST
def batch_intake(request: HttpRequest, pk: int) -> HttpResponse:
    _require_import(request)
    try:
        # Checked, restricted and audited by the action; another agency's import is a 404, a custodian's
        # facility a 403 (RefusalMiddleware); a broken rule is shown on the list.
        n = services.do_record_intake(request.user, pk)
    except RuleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Intake recorded in the custody ledger: %(n)d events.") % {"n": n})
    return redirect("registry:batch_list")


@require_POST
def batch_undo(request: HttpRequest, pk: int) -> HttpResponse:
    _require_import(request)
    try:
        n = services.do_undo_import(request.user, pk)
    except RuleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Import undone: %(n)d people removed.") % {"n": n})
    return redirect("registry:batch_list")
