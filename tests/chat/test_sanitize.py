"""The HTML allow-list and text escaping used for every message shown or sent."""

from __future__ import annotations

import pytest

from chat.sanitize import clean_html, html_has_text, text_to_html


@pytest.mark.parametrize(
    "dirty",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<b onmouseover="alert(1)">x</b>',
        "<style>body{display:none}</style>",
        '<iframe src="https://example.com"></iframe>',
        '<svg onload="alert(1)"></svg>',
        '<p style="background:url(javascript:alert(1))">x</p>',
    ],
)
def test_active_content_is_removed(dirty):
    cleaned = clean_html(dirty)
    for marker in (
        "<script",
        "onerror",
        "javascript:",
        "onmouseover",
        "<style",
        "<iframe",
        "<svg",
        "style=",
    ):
        assert marker not in cleaned


def test_formatting_and_safe_links_survive_and_links_open_in_a_new_tab():
    cleaned = clean_html('<p><b>bold</b> <em>it</em> <a href="https://example.com/x">link</a></p>')
    assert cleaned == (
        "<p><b>bold</b> <em>it</em> "
        '<a href="https://example.com/x" target="_blank" rel="noopener noreferrer nofollow">'
        "link</a></p>"
    )


def test_text_is_escaped_and_keeps_line_breaks():
    assert text_to_html("<b>hi</b>\nthere") == "<p>&lt;b&gt;hi&lt;/b&gt;<br>there</p>"


def test_html_with_only_tags_has_no_text():
    assert not html_has_text(clean_html("<p> </p><script>x</script>"))
    assert html_has_text(clean_html("<p>x</p>"))


def test_an_empty_last_list_item_and_an_empty_list_are_not_sent():
    assert clean_html("<ul><li>one</li><li><br></li></ul>") == "<ul><li>one</li></ul>"
    assert clean_html("<p>x</p><ol><li>&nbsp;</li></ol>") == "<p>x</p>"
