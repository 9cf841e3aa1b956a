"""Serving a stored file: audited first, sent as a download, with its SHA-256 in a header so the
receiver can check what arrived against what the record says was kept."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse

from custody.core import audit


def audited_download(request: Any, field: Any, content_type: str, name: str, sha256: str, action: str, obj: Any,
                     **detail: Any) -> FileResponse:
    audit.record(request, action, obj=obj, sha256=sha256, **detail)
    resp = FileResponse(field.open("rb"), content_type=content_type, as_attachment=True, filename=name)
    resp["X-Content-SHA256"] = sha256
    return resp
