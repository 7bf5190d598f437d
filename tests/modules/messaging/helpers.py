"""Small steps the messaging tests share: open a thread, post to it, read its id."""

from __future__ import annotations

import io
import re
from typing import Any

from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.conftest import BrandClient


def open_thread(client: BrandClient, path: str) -> int:
    """POST a start link (``/messages/with/<id>``...) and return the thread id it leads to."""
    resp = client.submit(path, form_page=path.rsplit("/with/", 1)[0].rsplit("/care-team", 1)[0]
                         + "/")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:400]
    match = re.search(r"/messages/(\d+)$", resp.headers["Location"])
    assert match, resp.headers["Location"]
    return int(match.group(1))


def post(client: BrandClient, path: str, body: str = "",
         files: list[tuple[bytes, str]] | None = None) -> Any:
    """POST a message (with ``files`` as (content, name)) to a thread page."""
    fields = MultiDict([("body", body), ("csrf_token", client.csrf(path))])
    for content, name in files or []:
        fields.add("files", FileStorage(io.BytesIO(content), filename=name,
                                        content_type="application/octet-stream"))
    # encoded in memory: the test client would spool a large body to a file it never closes
    boundary, payload = encode_multipart(fields)
    return client.post(path, data=payload,
                       content_type=f"multipart/form-data; boundary={boundary}")
