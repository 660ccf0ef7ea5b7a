"""The parts a message is made of: Telegram HTML text and PNG photos with an HTML caption.

Rendering composes them; the notifiers send them as they are (the console prints the same).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str  # Telegram HTML, at most 4096 units
    label: str = "text"


@dataclass(frozen=True, slots=True)
class PhotoPart:
    png: bytes
    filename: str
    caption: str | None = None  # Telegram HTML, at most 1024 units
    label: str = "photo"

    def __repr__(self) -> str:
        return f"PhotoPart({self.filename!r}, {len(self.png)} bytes, label={self.label!r})"


Part = TextPart | PhotoPart
