"""Message text as HTML: every character escaped, newlines kept, http(s) links made clickable
(opening in a new tab without access to this page, never followed by search engines). No HTML
written by a user ever reaches a page."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# a link runs to the next space or character that cannot end a URL in text
_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


def _link(url: str) -> tuple[Markup, str]:
    """An anchor for ``url`` and the trailing punctuation that was not part of it."""
    tail = ""
    while url and url[-1] in _TRAILING:
        # a closing parenthesis belongs to the URL when it opened one (Wikipedia links)
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        tail = url[-1] + tail
        url = url[:-1]
    anchor = Markup('<a href="{0}" rel="noopener nofollow ugc" target="_blank">{0}</a>').format(
        url)
    return anchor, tail


def message_html(text: str | None) -> Markup:
    """``text`` as safe HTML: escaped, line breaks as ``<br>``, http(s) URLs as links."""
    out: list[Markup] = []
    for line_no, line in enumerate((text or "").split("\n")):
        if line_no:
            out.append(Markup("<br>\n"))
        pos = 0
        for match in _URL.finditer(line):
            out.append(escape(line[pos:match.start()]))
            anchor, tail = _link(match.group(0))
            out.append(anchor)
            out.append(escape(tail))
            pos = match.end()
        out.append(escape(line[pos:]))
    return Markup("").join(out)
