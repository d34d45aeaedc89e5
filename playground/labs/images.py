"""Images (MNIST) as a lab: a CNN built layer by layer, trained on handwritten digits.

Its code is the `playground/images/` package (spec, limits and shape inference, link codec,
model, trainer, presets, figures, drawing) with `snapshot.ImageSnapshot` and `data/mnist.py`;
its page is `pages/images.py` with `ui/layer_builder.py`, `ui/images_live.py`, `ui/mnist_panel.py`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..capacity import JobCost
from ..images.link import decode_image, encode_image
from ..images.presets import IMAGE_PRESETS, image_preset
from ..images.spec import ImageSpec, summarize
from . import Lab, register


def _trainer(spec: ImageSpec):
    from ..images.trainer import ImageTrainer

    return ImageTrainer(spec)


def _presets() -> dict[str, tuple[str, ImageSpec]]:
    return {name: (description, image_preset(name)) for name, (description, _) in IMAGE_PRESETS.items()}


def _cost(spec: ImageSpec, flops_per_s: float) -> JobCost:
    """Estimated from the layer summary: heavy, it keeps a CPU busy."""
    summary = summarize(spec, flops_per_s=flops_per_s)
    return JobCost(summary.memory_mb, summary.seconds_per_step, True)


def _problems(spec: ImageSpec) -> list[str]:
    return [f"layer {index + 1}: {message}" for index, message in summarize(spec).problems]


def _claims(params: Mapping) -> bool:
    """Images links once opened on the bare path too: those with `layers` are still this page's."""
    return "layers" in params


LAB = register(Lab(
    name="images", title="Images (MNIST)", icon=":material/image:", url_path="images", page="pages/images.py",
    spec_type=ImageSpec, decode=decode_image, encode=encode_image, trainer=_trainer, presets=_presets,
    cost=_cost, problems=_problems, claims=_claims,
))
