"""A per-process cache of the directory's public pages (the list and profiles) for anonymous
visitors.

Only GET requests that carry neither a session nor a remember-me cookie are served from it or
stored in it, and only 200 answers that set no cookie. Everything a page depends on is in the
key: brand and its config revision, locale, time zone, path and query, and the directory's data
version (:mod:`modules.directory.versioning`), read in the request's own transaction before any
data, so a change committed by any process shows on the next request of every process. Pages
are stored as the view returned them: the app's own response hooks (security headers, Vary,
the request's commit) run on a hit as on a miss, so both answer the same headers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, g, request, session
from flask_babel import get_locale, get_timezone
from flask_login import COOKIE_NAME as REMEMBER_COOKIE
from flask_login import current_user

from engine.web import current_brand, db
from modules.directory.versioning import current_version

CACHED_ENDPOINTS = frozenset({"directory.index", "directory.profile"})
MAX_PAGES = 512

PageKey = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A view's answer as it left the view: status, headers and body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def response(self) -> Response:
        return Response(self.body, status=self.status, headers=list(self.headers))


class PageCache:
    """A thread-safe LRU of at most ``max_pages`` pages."""

    def __init__(self, max_pages: int = MAX_PAGES) -> None:
        self.max_pages = max_pages
        self._pages: OrderedDict[PageKey, CachedPage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: PageKey) -> CachedPage | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: PageKey, page: CachedPage) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.max_pages:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()

    def __len__(self) -> int:
        return len(self._pages)


pages = PageCache()


def _anonymous_get() -> bool:
    """A GET of a cached page by a visitor without a session (or a way to sign in silently)."""
    if request.method != "GET" or request.endpoint not in CACHED_ENDPOINTS:
        return False
    cookies = request.cookies
    return current_app.config["SESSION_COOKIE_NAME"] not in cookies \
        and current_app.config.get("REMEMBER_COOKIE_NAME", REMEMBER_COOKIE) not in cookies


def page_key() -> PageKey:
    """Everything the current page depends on; reads the data version (one small SELECT)."""
    brand = current_brand
    return (brand.slug, brand.revision, str(get_locale()), str(get_timezone()),
            request.script_root, request.path, request.query_string.decode("latin-1"),
            current_version(db()) or "")


def serve_cached() -> Response | None:
    """``before_request``: the cached page for this anonymous GET, if there is one.

    Remembers the key for :func:`store` on a miss.
    """
    if not _anonymous_get():
        return None
    key = page_key()
    page = pages.get(key)
    if page is None:
        g.directory_page_key = key
        return None
    return page.response()


def store(response: Response) -> Response:
    """``after_request``: keep a page answered to an anonymous GET without a session."""
    key: Any = g.pop("directory_page_key", None)
    if key is None or response.status_code != 200 or response.direct_passthrough:
        return response
    if session.modified or current_user.is_authenticated or "Set-Cookie" in response.headers:
        return response
    pages.put(key, CachedPage(response.status_code, tuple(response.headers.items()),
                              response.get_data()))
    return response
