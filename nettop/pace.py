"""The viewer's refresh interval steps: ``+`` and ``-`` walk a fixed ladder, so every step can be undone."""

from __future__ import annotations

#: Seconds between refreshes that ``+`` and ``-`` go through (halving and doubling never came back to 2 from 60).
STEPS = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 30.0, 60.0)


def slower(interval: float) -> float:
    """The next step up (``--interval 2.5`` goes to 3); the top step stays."""
    return next((step for step in STEPS if step > interval), STEPS[-1])


def faster(interval: float) -> float:
    """The next step down (``--interval 2.5`` goes to 2); the bottom step stays."""
    return next((step for step in reversed(STEPS) if step < interval), STEPS[0])
