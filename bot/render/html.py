"""Telegram HTML basics: escaping, lengths as Telegram counts them, tables, splitting.

Every dynamic piece (basket and ticker names come from the user's config, summaries quote
them) goes through ``esc``, so ``<`` or ``&`` in a name can neither break the message nor
inject markup. Tables are ``<pre>`` blocks no wider than ``TABLE_WIDTH`` characters so they
fit a phone screen without wrapping. ``split_message`` cuts long texts on line boundaries
for Telegram's 4096-character limit, closing and reopening any tag left open at a cut.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

MAX_TEXT = 4096
MAX_CAPTION = 1024
TABLE_WIDTH = 40

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*>")
_ATOM = re.compile(r"<[^>]*>|&#?\w+;|.", re.DOTALL)


def esc(value: object) -> str:
    """Escape a dynamic value for Telegram HTML (text content only, never attributes)."""
    return html.escape(str(value), quote=False)


def units(text: str) -> int:
    """Return the length Telegram counts: UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def num(value: float | None, spec: str = ".1f") -> str:
    return "n/a" if value is None else format(value, spec)


def table(rows: Sequence[Sequence[str]], align: str = "", width: int = TABLE_WIDTH) -> str:
    """Return ``rows`` as an escaped ``<pre>`` block no wider than ``width``.

    ``align`` has one "l" or "r" per column (default: first column left, the others right).
    When the rows are too wide, the widest left-aligned (text) columns are cut with an
    ellipsis; numbers are never cut.
    """
    ncols = max(len(r) for r in rows)
    align = (align or "l").ljust(ncols, "r")[:ncols]
    cells = [[*r, *([""] * (ncols - len(r)))] for r in rows]
    widths = _fit_widths([max(len(r[i]) for r in cells) for i in range(ncols)], align, width)
    lines = []
    for r in cells:
        cut = [c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(r, widths, strict=True)]
        cols = zip(cut, widths, align, strict=True)
        padded = [f"{c:<{w}}" if a == "l" else f"{c:>{w}}" for c, w, a in cols]
        lines.append(esc("  ".join(padded).rstrip()))
    return "<pre>" + "\n".join(lines) + "</pre>"


def _fit_widths(widths: list[int], align: str, width: int) -> list[int]:
    """Shrink the widest text columns, one character at a time, until the row fits."""
    widths = list(widths)
    while sum(widths) + 2 * (len(widths) - 1) > width:
        text = [i for i, a in enumerate(align) if a == "l" and widths[i] > 4]
        if not text:
            break
        widths[max(text, key=lambda i: widths[i])] -= 1
    return widths


def split_message(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut ``text`` into messages of at most ``limit`` units, on line boundaries.

    A tag open at a cut (a ``<pre>`` table, say) is closed at the end of one message and
    reopened at the start of the next, so every message is valid HTML on its own.
    """
    if units(text) <= limit:
        return [text]
    out: list[str] = []
    body: list[str] = []
    head, size = "", 0
    stack: list[tuple[str, str]] = []
    for line in _fit_lines(text.split("\n"), max(1, limit // 2)):
        after = _advance(stack, line)
        extra = units(line) + (1 if body else 0)
        if body and size + extra + units(_closing(after)) > limit:
            out.append(head + "\n".join(body) + _closing(stack))
            head = "".join(tag for _, tag in stack)
            body, size, extra = [], units(head), units(line)
        body.append(line)
        size += extra
        stack = after
    out.append(head + "\n".join(body) + _closing(stack))
    return out


def _advance(stack: list[tuple[str, str]], line: str) -> list[tuple[str, str]]:
    """Return the open tags after ``line``, given those open before it."""
    opened = list(stack)
    for m in _TAG.finditer(line):
        closing, name = m.group(1) == "/", m.group(2).lower()
        if not closing:
            opened.append((name, m.group(0)))
        elif opened and opened[-1][0] == name:
            opened.pop()
    return opened


def _closing(stack: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _fit_lines(lines: Sequence[str], width: int) -> list[str]:
    """Wrap lines longer than ``width`` units, at a space where possible, never in a tag."""
    out: list[str] = []
    for line in lines:
        atoms: list[str] = _ATOM.findall(line)
        while sum(units(a) for a in atoms) > width:
            cut = _cut_point(atoms, width)
            out.append("".join(atoms[:cut]).rstrip())
            atoms = atoms[cut:]
        out.append("".join(atoms))
    return out


def _cut_point(atoms: Sequence[str], width: int) -> int:
    """Return how many atoms start the next piece: up to the last space that fits, if any."""
    size, fits, space = 0, 0, 0
    for i, atom in enumerate(atoms):
        if size + units(atom) > width:
            break
        size += units(atom)
        fits = i + 1
        space = i + 1 if atom == " " else space
    return space or max(1, fits)


def fits_caption(text: str) -> bool:
    return units(text) <= MAX_CAPTION
