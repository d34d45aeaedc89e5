"""What a job costs, estimated before anything is built, and the server's limits on it.

Every lab's job gets a `JobCost` from its spec alone (`Lab.cost`: pure arithmetic, no torch): the
memory training needs, the seconds one training batch takes on this server, and whether it is
heavy (an image network, which keeps the CPU busy). The job manager uses it to refuse what the server
cannot afford, to place jobs on workers and to queue heavy jobs; the Images page uses the same
numbers to explain a refusal before anything runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .images.spec import Summary
from .settings import Settings

LIGHT_JOB_MB = 4.0  # a 2-D network with its data, grids and history, measured in a worker: ~2-3 MB


@dataclass(frozen=True)
class JobCost:
    memory_mb: float
    step_s: float  # one training batch, estimated for this server
    heavy: bool

    @property
    def weight(self) -> float:
        """How much of a worker the job takes when it trains, for placing jobs on workers."""
        return 1.0 + (20.0 if self.heavy else 0.0) + 100.0 * self.step_s


def limit_problems(summary: Summary, batch_size: int, settings: Settings) -> list[str]:
    """Why this server will not build a network it could build in principle: one network's
    memory, or one training batch so long that other visitors' clicks would wait on it."""
    problems = []
    if summary.memory_mb > settings.max_job_mb:
        problems.append(
            f"This network would need about {summary.memory_mb:,.0f} MB while training; this server allows "
            f"{settings.max_job_mb:,.0f} MB per network. Use fewer filters or units, pool earlier, or a smaller batch size.")
    if summary.seconds_per_step > settings.max_step_s:
        per_image = summary.seconds_per_step / max(1, batch_size)
        largest = math.floor(settings.max_step_s / per_image) if per_image > 0 else batch_size
        advice = (f"Use a batch size of at most {largest}, or fewer or smaller layers." if largest >= 1 else
                  "Even one image takes too long: use fewer filters, a smaller kernel or pool earlier.")
        problems.append(
            f"One training batch of this network would take about {summary.seconds_per_step:.2f} s on this server, "
            f"which allows {settings.max_step_s:g} s so that everybody's Pause answers at once. {advice}")
    return problems
