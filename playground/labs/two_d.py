"""The 2-D playground as a lab: TensorFlow Playground's page, an MLP on toy data.

Its code lives in the core modules it grew up in: `spec.py` (spec, limits, validation),
`sharelink.py` (links), `tfp_import.py`, `presets.py`, `data/`, `model.py`, `fastpath.py`,
`trainer.py`, `snapshot.Snapshot`, `figures.py`, `netdiagram.py`; its page is `pages/two_d.py`
with `ui/controls.py` and `ui/live.py`.
"""

from __future__ import annotations

from ..presets import PRESETS, preset_spec
from ..sharelink import decode, encode
from ..spec import RunSpec
from . import Lab, register


def _trainer(spec: RunSpec):
    from ..trainer import Trainer

    return Trainer(spec)


def _presets() -> dict[str, tuple[str, RunSpec]]:
    return {name: (description, preset_spec(name)) for name, (description, _) in PRESETS.items()}


def _foreign(link: str) -> tuple[RunSpec, list[str]] | None:
    """A playground.tensorflow.org link, converted (None for any other link)."""
    if "playground.tensorflow.org" not in link:
        return None
    from ..tfp_import import import_link

    return import_link(link)


LAB = register(Lab(
    name="two_d", title="2-D playground", icon=":material/scatter_plot:", url_path="", page="pages/two_d.py",
    spec_type=RunSpec, decode=decode, encode=encode, trainer=_trainer, presets=_presets, foreign=_foreign,
))
