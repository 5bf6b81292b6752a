"""Markdown to safe HTML: CommonMark with raw HTML off, then an allow-list sanitiser."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")
_TAGS = {"p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "code", "pre", "h2", "h3", "h4", "hr"}


def to_html(markdown: str) -> str:
    html = _markdown.render(markdown or "")
    # Headings start at h2: the page's own title is the only h1.
    html = re.sub(r"<(/?)h1>", r"<\1h2>", html)
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )


def to_plain(markdown: str) -> str:
    """Text for the search index and emails: the sanitised HTML without its tags."""
    return re.sub(r"\s+", " ", nh3.clean(to_html(markdown), tags=set())).strip()
