"""``ConsoleNotifier``: print what Telegram would receive (the notifier when no token is set)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType
from typing import Self, TextIO

from bot.config import Config
from bot.notify.notifiers import CONSOLE_CHAT, Part, Sent, TextPart, on_wire

CHARTS_FOLDER = "rotabot-charts"


class ConsoleNotifier:
    """Print what Telegram would receive; save photos as files and print their paths."""

    def __init__(self, folder: Path, stream: TextIO | None = None) -> None:
        self.folder = Path(folder)
        self.stream = stream or sys.stdout
        self._count = 0

    @classmethod
    def from_config(cls, config: Config, token: str | None = None) -> Self:
        """Print to stdout; photos go to ``rotabot-charts/`` beside the state file."""
        return cls(config.state.path.parent / CHARTS_FOLDER)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def send(self, chat_id: int, part: Part, key: str, kind: str) -> Sent:
        self._count += 1
        to = "console" if chat_id == CONSOLE_CHAT else f"chat {chat_id}"
        lines = [f"--- {kind} {part.label} to {to} (HTML) ---"]
        if isinstance(part, TextPart):
            lines.append(part.text)
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / part.filename
            path.write_bytes(part.png)
            lines.append(f"[photo saved to {path}]")
            if part.caption:
                lines.append(part.caption)
        on_wire()
        print("\n".join(lines), file=self.stream)
        return Sent(self._count)
