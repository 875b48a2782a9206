"""The workspace as a zip: the latest version of every file, built in memory within a bound."""

from __future__ import annotations

import io
import zipfile

from django.db.models import Sum

from core.errors import PayloadTooLarge
from workspaces.models import WorkspaceFile

ZIP_MAX_CONTENT_BYTES = 64 * 1024 * 1024  # uncompressed content one zip may hold


def workspace_zip(*, swarm_id: str, folder: str) -> bytes:
    """A zip whose entries are `folder/<path>`, dated by the version's write."""
    files = WorkspaceFile.objects.for_swarm(swarm_id).latest_versions()
    total = files.aggregate(total=Sum("size"))["total"] or 0
    if total > ZIP_MAX_CONTENT_BYTES:
        raise PayloadTooLarge(
            f"The workspace holds {total} bytes; a zip holds at most {ZIP_MAX_CONTENT_BYTES}. "
            "Download the files one by one"
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in files.only("path", "content", "created_at").iterator(chunk_size=50):
            entry = zipfile.ZipInfo(f"{folder}/{file.path}", date_time=file.created_at.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16  # a regular file, rw-r--r--
            archive.writestr(entry, file.content.encode("utf-8"))
    return buffer.getvalue()
