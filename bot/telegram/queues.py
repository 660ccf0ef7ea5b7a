"""Fair turns for every chat: one queue and one worker per chat, with a cap.

Every command of a chat goes into that chat's queue and runs after the ones it sent before,
so replies come back in the order the commands were sent. Each chat has its own worker task,
and the blocking work behind a command runs off the event loop (threads, or a child process
for /backtest), so a chat that floods the bot waits behind its own commands only: another
chat's /status is answered while the flood is being worked through.

A chat with ``cap`` commands waiting or running gets "busy" for the next one; while its queue
stays full, further commands are dropped without a reply (logged), so a flood cannot use up
the bot's shared sending rate with refusals either.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from enum import Enum

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
CHAT_QUEUE = 10  # commands a chat may have waiting or running


class Admission(Enum):
    QUEUED = "queued"
    BUSY = "busy"  # refused: tell the chat once
    DROPPED = "dropped"  # refused again while still full: say nothing


class ChatQueues:
    """Per-chat FIFO queues of command jobs, each chat served by its own worker task."""

    def __init__(self, cap: int = CHAT_QUEUE) -> None:
        self.cap = cap
        self._queues: dict[int, deque[Job]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._told: set[int] = set()  # chats told "busy" since their queue last had room

    def waiting(self, chat_id: int) -> int:
        """Return how many commands of ``chat_id`` are queued or running."""
        return len(self._queues.get(chat_id, ()))

    def submit(self, chat_id: int, job: Job) -> Admission:
        """Queue ``job`` behind the chat's earlier commands, unless the queue is full."""
        queue = self._queues.setdefault(chat_id, deque())
        if len(queue) >= self.cap:
            if chat_id in self._told:
                log.info("chat %s: queue full, a command was dropped", chat_id)
                return Admission.DROPPED
            self._told.add(chat_id)
            log.warning("chat %s: %d commands waiting, refusing more", chat_id, self.cap)
            return Admission.BUSY
        queue.append(job)
        if chat_id not in self._workers:
            self._workers[chat_id] = asyncio.create_task(
                self._serve(chat_id), name=f"rotabot-chat-{chat_id}"
            )
        return Admission.QUEUED

    async def _serve(self, chat_id: int) -> None:
        queue = self._queues[chat_id]
        try:
            while queue:
                try:
                    await queue[0]()
                except Exception:  # a job reports its own failures; this is the last guard
                    log.exception("chat %s: a command failed", chat_id)
                finally:
                    queue.popleft()
                    if len(queue) < self.cap:
                        self._told.discard(chat_id)
        finally:
            del self._workers[chat_id]
            if not queue:
                del self._queues[chat_id]

    async def close(self) -> None:
        """Cancel every chat's worker (what is waiting is dropped) and wait for them to end."""
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._queues.clear()
        self._told.clear()
