"""Fakes shared by tests: a notifier that records what it would have sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from bot.notify.notifiers import Part, PhotoPart, Sent, TextPart, Unconfirmed, Undelivered, on_wire


@dataclass
class RecordingNotifier:
    """Keeps every part per chat; can be told to fail the next sends."""

    sent: list[tuple[int, str, str, str]] = field(default_factory=list)  # chat, key, kind, text
    fail_next: list[str] = field(default_factory=list)  # "undelivered" / "unconfirmed" queue
    opened: int = 0

    async def __aenter__(self) -> Self:
        self.opened += 1
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def send(self, chat_id: int, part: Part, key: str, kind: str) -> Sent:
        if self.fail_next and self.fail_next[0] == "undelivered":
            self.fail_next.pop(0)
            raise Undelivered("telegram said 500")  # refused before anything went out
        on_wire()
        if self.fail_next:
            self.fail_next.pop(0)
            self.sent.append((chat_id, key, kind, _text(part)))  # it did arrive
            raise Unconfirmed("read timeout")
        self.sent.append((chat_id, key, kind, _text(part)))
        return Sent(message_id=len(self.sent))

    def keys(self, chat: int | None = None) -> list[str]:
        return [k for c, k, _, _ in self.sent if chat is None or c == chat]


def _text(part: Part) -> str:
    if isinstance(part, TextPart):
        return part.text
    assert isinstance(part, PhotoPart)
    return f"[photo {part.filename}] {part.caption or ''}"
