"""A small self-contained HTML page that shows a run's pictures and numbers."""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from neuroplay.common.io import write_text

MARKER = "<!-- neuroplay report -->"
_CODE = re.compile(r"`([^`<>]+)`")  # `a command` in a text, after escaping


def _prose(text: str) -> str:
    """``text`` escaped, with its `backticked` commands set as code."""
    return _CODE.sub(r"<code>\1</code>", html.escape(text))


@dataclass
class Section:
    title: str
    text: str = ""
    images: list[tuple[str, str]] = field(default_factory=list)  # (relative path, caption)
    numbers: dict[str, str] = field(default_factory=dict)
    pre: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)  # (address, text)


def write_report(path: str | os.PathLike[str], title: str, sections: list[Section], footer: str = "") -> Path:
    """Write ``index.html`` showing each section's text, numbers table, images and preformatted text."""
    esc = html.escape
    parts = [
        "<!doctype html>",
        MARKER,
        f"<html><head><meta charset='utf-8'><title>{esc(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}"
        "section{border-top:1px solid #ddd;padding:1em 0}img{max-width:100%;border:1px solid #eee}"
        "figure{display:inline-block;margin:0.5em;vertical-align:top;max-width:47%}"
        "table{border-collapse:collapse}td{padding:2px 10px;border-bottom:1px solid #eee}"
        "pre{background:#f6f6f6;padding:0.6em;line-height:1.15}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    for s in sections:
        parts.append(f"<section><h2>{esc(s.title)}</h2>")
        if s.text:
            parts.append(f"<p>{_prose(s.text)}</p>")
        if s.numbers:
            rows = "".join(f"<tr><td>{esc(k)}</td><td><b>{esc(v)}</b></td></tr>" for k, v in s.numbers.items())
            parts.append(f"<table>{rows}</table>")
        for src, caption in s.images:
            parts.append(
                f"<figure><img src='{esc(src)}' alt='{esc(caption)}'><figcaption>{esc(caption)}</figcaption></figure>"
            )
        if s.pre:
            parts.append(f"<pre>{esc(s.pre)}</pre>")
        for href, text in s.links:
            parts.append(f"<p><a href='{esc(href)}'>{esc(text)}</a></p>")
        parts.append("</section>")
    if footer:
        parts.append(f"<p><small>{_prose(footer)}</small></p>")
    parts.append("</body></html>")
    path = Path(path)
    write_text(path, "\n".join(parts) + "\n")
    return path
