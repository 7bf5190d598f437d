"""Message text to HTML: escaped, line breaks kept, only http(s) links made clickable."""

from __future__ import annotations

import pytest

from modules.messaging.rendering import message_html


@pytest.mark.parametrize(("text", "html"), [
    ("<b>hi</b>", "&lt;b&gt;hi&lt;/b&gt;"),
    ("a\nb", "a<br>\nb"),
    ("see https://example.com/x.", 'see <a href="https://example.com/x" rel="noopener nofollow '
     'ugc" target="_blank">https://example.com/x</a>.'),
    ("(http://example.com/a_(b))", '(<a href="http://example.com/a_(b)" rel="noopener nofollow '
     'ugc" target="_blank">http://example.com/a_(b)</a>)'),
    ('https://example.com/"onmouseover="alert(1)', '<a href="https://example.com/" '
     'rel="noopener nofollow ugc" target="_blank">https://example.com/</a>&#34;onmouseover='
     '&#34;alert(1)'),
    ("javascript:alert(1) and data:text/html,x", "javascript:alert(1) and data:text/html,x"),
    ("", ""),
])
def test_message_html(text: str, html: str) -> None:
    assert str(message_html(text)) == html
