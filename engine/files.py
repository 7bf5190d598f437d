"""Files the engine keeps on disk with secrets or health data in them (key files, encrypted
attachments): written so that no reader, crash or power cut ever sees part of one."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_private(path: Path, data: bytes | str) -> None:
    """Replace ``path`` with ``data``: mode 0600 from the first byte, written whole under a
    unique temporary name beside it, flushed to disk, renamed into place (``os.replace``) and
    the folder's entry flushed too. A reader sees the old file or the new one, never part of
    one; once this returns, a power cut loses neither content nor name."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the new name itself
    finally:
        os.close(folder)
