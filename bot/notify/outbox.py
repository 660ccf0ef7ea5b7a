"""The one delivery pipeline: messages are written to the outbox, then sent part by part.

The daemon queues a session's messages in the transaction that stores its result
(``StateStore.finish``); ``rotabot signal --send`` queues them with ``StateStore.enqueue``
under the same keys. Either way ``deliver_pending`` sends them, with these rules:

* A part's row is marked "in doubt" (``sending``, committed) through ``ON_WIRE``, right
  before the notifier puts bytes on the wire, not before: a crash during a rate-limit wait
  or a retry back-off leaves the row pending, sent later.
* ``Undelivered`` (Telegram surely did not take it): the row goes back to ``pending`` and the
  next delivery retries it from the part that failed.
* ``Unconfirmed`` (it may have arrived): the part is not sent again; the row ends
  ``unconfirmed``.
* Any other ``NotifyError`` (the chat blocked the bot, ...): the row is ``failed`` for good.

Parts are stored as JSON (``encode_parts``: PNG as base64) so a restart can finish a message.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Sequence
from functools import partial

from bot.errors import NotifyError
from bot.notify.channels import Fanout
from bot.notify.notifiers import (
    ON_WIRE,
    Notifier,
    Part,
    PhotoPart,
    TextPart,
    Unconfirmed,
    Undelivered,
    redact,
)
from bot.store.state import OutboxRow, StateStore

log = logging.getLogger(__name__)


async def deliver_pending(
    store: StateStore, notifier: Notifier | Fanout, keys: Sequence[str] | None = None
) -> int:
    """Send every pending outbox row (of ``keys`` when given), part by part; return how many
    rows completed.

    Each channel (Telegram's chats, each named channel) is delivered by its own task, side by
    side, so a slow or failing channel never holds up the others. A channel's notifier is
    opened only when it has something to send; an error opening it (Telegram unreachable,
    token refused) leaves its rows pending and is raised once every channel is done.
    """
    fanout = notifier if isinstance(notifier, Fanout) else Fanout(notifier)
    by_channel: dict[str, list[OutboxRow]] = {}
    for row in store.pending(keys):
        by_channel.setdefault(row.channel, []).append(row)
    results = await asyncio.gather(
        *(_deliver_channel(store, fanout, ch, rows) for ch, rows in by_channel.items()),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]
    return sum(r for r in results if isinstance(r, int))


async def _deliver_channel(
    store: StateStore, fanout: Fanout, channel: str, rows: list[OutboxRow]
) -> int:
    notifier = fanout.for_channel(channel)
    if notifier is None:
        log.warning(
            "channel %s: not configured or its URL variable is unset: %d row(s) stay pending",
            channel,
            len(rows),
        )
        return 0
    done = 0
    async with notifier:
        for row in rows:
            done += await _deliver_row(store, notifier, row)
    return done


async def _deliver_row(store: StateStore, notifier: Notifier, row: OutboxRow) -> int:
    parts = decode_parts(row.parts)
    for index in range(row.next_part, len(parts)):
        # Marked in doubt (committed) when the notifier is about to put it on the wire, not
        # before: a crash during a rate-limit wait then leaves the row pending, sent later.
        wired = ON_WIRE.set(partial(store.sending, row.id))
        try:
            sent = await notifier.send(row.chat_id, parts[index], row.key, row.kind)
        except Unconfirmed:
            row = store.part_done(row, index, None, confirmed=False)
            continue
        except Undelivered as exc:
            store.failed(row.id, redact(str(exc)), retry=True)
            log.warning("outbox %s -> %s: not delivered, will retry: %s", row.key, row.target, exc)
            return 0
        except NotifyError as exc:
            store.failed(row.id, redact(str(exc)), retry=False)
            log.error("outbox %s -> %s: failed for good: %s", row.key, row.target, exc)
            return 0
        finally:
            ON_WIRE.reset(wired)
        row = store.part_done(row, index, sent.message_id, sent.confirmed)
    return 1


def encode_parts(parts: Sequence[Part]) -> list[dict[str, str]]:
    """Turn message parts into JSON-ready dicts for the outbox (PNG as base64)."""
    out: list[dict[str, str]] = []
    for p in parts:
        if isinstance(p, TextPart):
            out.append({"type": "text", "text": p.text, "label": p.label})
        else:
            out.append(
                {
                    "type": "photo",
                    "png": base64.b64encode(p.png).decode("ascii"),
                    "filename": p.filename,
                    "caption": p.caption or "",
                    "label": p.label,
                }
            )
    return out


def decode_parts(rows: list[dict[str, str]]) -> list[Part]:
    parts: list[Part] = []
    for r in rows:
        if r["type"] == "text":
            parts.append(TextPart(r["text"], r.get("label", "text")))
        else:
            parts.append(
                PhotoPart(
                    base64.b64decode(r["png"]),
                    r["filename"],
                    r.get("caption") or None,
                    r.get("label", "photo"),
                )
            )
    return parts
