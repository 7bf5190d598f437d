"""What every real-browser test shares: Debian's Chromium (never a downloaded browser), the
flags it needs here, the marks that select and skip these tests, and one launch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",  # CI runs as root
    "--disable-background-networking",  # otherwise it keeps calling hosts it cannot reach
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--host-resolver-rules=MAP *.localhost 127.0.0.1",
)
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian's Chromium is not installed at /usr/bin/chromium "
                              "(apt-get install chromium)"),
]


@contextmanager
def chromium(*extra_args: str) -> Iterator[Browser]:
    """A headless Debian Chromium with :data:`CHROMIUM_ARGS` and ``extra_args``."""
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield launched
        finally:
            launched.close()
