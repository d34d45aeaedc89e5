"""Headless runs: `python -m playground train LINK --epochs N` and `python -m playground presets`.

`train` builds exactly what the page builds for the link (2-D or Images) and prints one line per
epoch with the numbers the page shows, so a teacher can check a lesson and tests can check
reproducibility.
"""

from __future__ import annotations

import argparse
import math
import sys

from .images.spec import ImageSpec, summarize

from .images.presets import IMAGE_PRESETS, image_preset
from .presets import PRESETS, preset_spec
from .sharelink import decode, decode_image, image_query, is_image_link, parse_link, to_query
from .spec import LIMITS, parse_number
from .tfp_import import import_link

EPOCHS = LIMITS["epochs"]


def _spec_from_link(link: str):
    if "playground.tensorflow.org" in link:
        return import_link(link)
    params = parse_link(link)
    return decode_image(params) if is_image_link(params) else decode(params)


def _epochs(text: str) -> int:
    """--epochs: a whole number within the limits table (argparse turns the error into exit 2)."""
    number = parse_number(text)
    if not isinstance(number, int) or not EPOCHS.lo <= number <= EPOCHS.hi:
        raise argparse.ArgumentTypeError(f"must be a whole number between {EPOCHS.lo} and {EPOCHS.hi}, not {text[:20]!r}")
    return number


def _fmt(value: float) -> str:
    return "nan" if not math.isfinite(value) else f"{value:.6f}"


def train(link: str, epochs: int) -> int:
    import torch

    torch.set_num_threads(1)
    from .trainer import Trainer

    try:
        spec, notes = _spec_from_link(link)
    except Exception as error:  # noqa: BLE001 - the decoders never raise; if one ever does, say so plainly
        print(f"error: cannot read that link ({type(error).__name__}); nothing was trained.", file=sys.stderr)
        return 2
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if isinstance(spec, ImageSpec):
        return train_images(spec, epochs)
    trainer = Trainer(spec)
    classify = spec.loss == "bce"
    header = "epoch train_loss test_loss" + (" test_acc" if classify else "")
    print(header)
    for _ in range(epochs):
        trainer.run_epochs(1)
        if trainer.diverged:
            print(trainer.diverged, file=sys.stderr)
            return 2
        h = trainer.history
        line = f"{trainer.epoch} {_fmt(h['train_loss'][-1])} {_fmt(h['test_loss'][-1])}"
        if classify:
            line += f" {_fmt(h['test_acc'][-1])}"
        print(line, flush=True)
    return 0


def train_images(spec: ImageSpec, epochs: int) -> int:
    from .images.trainer import ImageTrainer

    problems = summarize(spec).problems
    if problems:
        for index, message in problems:
            print(f"layer {index + 1}: {message}", file=sys.stderr)
        return 2
    trainer = ImageTrainer(spec)
    print(f"data: {trainer.source}, device: {trainer.device}", file=sys.stderr)
    print("epoch train_loss test_loss test_acc")
    for _ in range(min(epochs, spec.train.epochs)):
        trainer.run_epochs(1)
        if trainer.diverged:
            print(trainer.diverged, file=sys.stderr)
            return 2
        print(f"{trainer.epoch} {_fmt(trainer.epoch_train_losses[-1])} {_fmt(trainer.test_loss)} "
              f"{_fmt(trainer.test_accuracy)}", flush=True)
    return 0


def presets(base: str) -> int:
    base = base.rstrip("/")
    print("2-D playground:")
    for name, (description, _) in PRESETS.items():
        print(f"{name}: {description}\n  {base}/?{to_query(preset_spec(name))}")
    print("Images:")
    for name, (description, _) in IMAGE_PRESETS.items():
        print(f"{name}: {description}\n  {base}/images?{image_query(image_preset(name))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playground", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("train", help="train a share link's network headless, one line per epoch")
    run.add_argument("link", help="a share link, its query string, or a TensorFlow Playground link")
    run.add_argument("--epochs", type=_epochs, default=10,
                     help=f"{EPOCHS.lo} to {EPOCHS.hi:,}; at most the link's own epochs for image links")
    listing = sub.add_parser("presets", help="list the presets with their share links")
    listing.add_argument("--base", default="http://localhost:8501/", help="the app's address")
    args = parser.parse_args(argv)
    if args.command == "train":
        return train(args.link, args.epochs)
    return presets(args.base)


if __name__ == "__main__":
    sys.exit(main())
