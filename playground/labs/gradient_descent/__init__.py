"""Lab "Gradient descent": fit a line by gradient descent, and race seven optimizers on a surface.

spec.py (limits, validate) and link.py (share links), data.py and snapshot.py import no torch, so
the page can use them; surfaces.py, optimizers.py, linefit.py and race.py do the training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .linefit import LineFit
    from .race import Race
    from .spec import GradientSpec


def build(spec: GradientSpec) -> LineFit | Race:
    """The trainer a validated spec asks for: a LineFit (mode 'fit') or a Race (mode 'race')."""
    if spec.mode == "race":
        from .race import Race

        return Race(spec)
    from .linefit import LineFit

    return LineFit(spec)
