"""Untrusted Markdown (LLM output) → safe HTML.

Two layers, so a mistake in one is caught by the other: markdown-it renders with raw HTML off
(hostile tags come out as visible text, and it refuses `javascript:`-style link targets), then nh3
keeps only an allow-list of tags and attributes and only http, https and mailto URLs. Images are
never rendered: an `<img>` pointing elsewhere would leak the reader's visit to a tracker, so the
alt text is shown instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "span",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
}  # `class` is governed by allowed_classes below (nh3 refuses it in both)
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"
IMAGE_ALT_CLASS = "md-image-alt"


def _image_as_alt_text(renderer: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    alt = renderer.renderInlineAsText(tokens[idx].children or [], options, env)
    return f'<span class="{IMAGE_ALT_CLASS}">[image: {escapeHtml(alt)}]</span>'


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    md.add_render_rule("image", _image_as_alt_text)
    return md


_MD = _parser()


def sanitize(html: str) -> str:
    """The allow-list pass (also usable on its own for any HTML fragment)."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes={"span": {IMAGE_ALT_CLASS}},
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """Sanitised HTML for `text`; the only string the templates mark safe."""
    return sanitize(_MD.render(text or ""))
