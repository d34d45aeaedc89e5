"""Image presets: architectures every primer shows, as layer lists."""

from __future__ import annotations

from .spec import FLATTEN, SEED_CNN, ImageLayer, ImageSpec, conv, dense, pool

IMAGE_PRESETS: dict[str, tuple[str, tuple[ImageLayer, ...]]] = {
    "seed-cnn": ("The classic CNN: Conv 32 3x3 → MaxPool 2 → Dense 128 → Dense 10", SEED_CNN),
    "mlp": ("A 784-128-10 multilayer perceptron", (FLATTEN, dense(128, "relu"), dense(10))),
    "lenet5": ("LeNet-5 (LeCun et al., 1998)", (
        conv(6, 5, "tanh", padding=2), pool(2, "avgpool"), conv(16, 5, "tanh"), pool(2, "avgpool"),
        FLATTEN, dense(120, "tanh"), dense(84, "tanh"), dense(10))),
    "logistic": ("Logistic regression: one Dense 10 on the raw pixels", (FLATTEN, dense(10))),
}


def image_preset(name: str) -> ImageSpec:
    return ImageSpec(layers=IMAGE_PRESETS[name][1])
