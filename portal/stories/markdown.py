"""Story Markdown to safe HTML: markdown-it-py with raw HTML off, then nh3's allow-list.

Two layers on purpose: markdown-it never passes raw HTML through (``html=False``) and refuses
``javascript:``/``vbscript:``/``data:`` links itself; nh3 (ammonia) then keeps only the tags
and attributes below, and only http(s) and mailto links, whatever the first layer let by.
"""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "strong",
    "em",
    "blockquote",
    "ul",
    "ol",
    "li",
    "code",
    "pre",
    "h2",
    "h3",
    "h4",
    "a",
    "del",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
ALLOWED_SCHEMES = {"http", "https", "mailto"}

_parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).disable("image")


def _demote_headings(rendered: str) -> str:
    # A story sits under the page's own h1: its "# Heading" becomes an h2 (and so on).
    for level in (6, 5, 4, 3, 2, 1):
        target = min(level + 1, 4)
        rendered = rendered.replace(f"<h{level}>", f"<h{target}>").replace(f"</h{level}>", f"</h{target}>")
    return rendered


def render(text: str) -> Markup:
    """Markdown to HTML that is safe to put in a page."""
    rendered = _demote_headings(_parser.render(text or ""))
    clean = nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
    return Markup(clean)


def plain_text(text: str) -> str:
    """The words of a story without markup, for search and feeds."""
    return html.unescape(nh3.clean(_parser.render(text or ""), tags=set())).strip()
