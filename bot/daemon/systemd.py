"""Tell systemd how the daemon is doing: ``sd_notify`` without libsystemd.

Under a ``Type=notify`` unit, systemd passes ``NOTIFY_SOCKET`` (a unix datagram socket; a
leading ``@`` names an abstract one) and waits for ``READY=1`` before it calls the service
started. With ``WatchdogSec=``, it also passes ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``) and
restarts the service when ``WATCHDOG=1`` does not come at least that often. Outside systemd
every call here does nothing, so the daemon runs the same from a terminal or a container.
See sd_notify(3) and systemd.service(5).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


def notify(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``message`` (``READY=1``, ``WATCHDOG=1``, ``STATUS=...``, ``STOPPING=1``, one per
    line) to systemd; return whether it went out. Never raises: a monitor that cannot be
    reached must not stop the daemon."""
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET", "")
    if not address or address[0] not in "/@":
        return False
    target = "\0" + address[1:] if address[0] == "@" else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target)
            sock.sendall(message.encode("utf-8"))
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", address, exc)
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Return how often to ping the watchdog, in seconds (half systemd's timeout), or None
    when no watchdog is set for this process."""
    env = os.environ if environ is None else environ
    pid = env.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None  # meant for another process (the variable was inherited)
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2e6 if usec > 0 else None


async def keep_alive(interval: float) -> None:
    """Ping the watchdog every ``interval`` seconds until cancelled. It runs on the daemon's
    event loop, so a stuck loop stops the pings and systemd restarts the service."""
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)
