"""shock_fade: after a shock rotation, hold the basket money left, betting on a reversal.

Idea: the mirror image of ``shock_follow``. A one-session rotation is often an overreaction
(a crowded exit, an earnings gap read across a whole group) that partly reverses. On a session
whose shock score reaches ``min_score`` and passes the detector's gates, hold the basket that
lost the session for ``hold`` sessions, then go back to cash; a new shock restarts the clock.

Parameters: ``hold`` (sessions, default 5), ``min_score`` (detector score, default 2.5).

Source: the project's shock detector (docs/shock-calibration.md) read as reversal, the
short-term reversal effect of Jegadeesh, "Evidence of Predictable Behavior of Security
Returns", Journal of Finance 45 (1990), and Lehmann, "Fads, Martingales, and Market
Efficiency", Quarterly Journal of Economics 105 (1990).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from strategies.shock_follow import ShockFollow


@dataclass(frozen=True, slots=True)
class ShockFade(ShockFollow):
    """Hold the shock's losing basket for H sessions after each shock rotation."""

    name: ClassVar[str] = "shock_fade"
    direction: ClassVar[float] = -1.0
