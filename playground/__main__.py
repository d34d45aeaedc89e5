"""Headless runs: `python -m playground train LINK --epochs N` and `python -m playground presets`.

`train` builds exactly what the page builds for the link (any lab: the registry in `labs/` picks it
from the link's page path) and prints one line per epoch with the numbers the page shows, so a
teacher can check a lesson and tests can check reproducibility.
"""

from __future__ import annotations

import argparse
import math
import sys
from urllib.parse import urlencode

from . import labs
from .spec import LIMITS, parse_number

EPOCHS = LIMITS["epochs"]


def _epochs(text: str) -> int:
    """--epochs: a whole number within the limits table (argparse turns the error into exit 2)."""
    number = parse_number(text)
    if not isinstance(number, int) or not EPOCHS.lo <= number <= EPOCHS.hi:
        raise argparse.ArgumentTypeError(f"must be a whole number between {EPOCHS.lo} and {EPOCHS.hi}, not {text[:20]!r}")
    return number


def _fmt(value: float) -> str:
    return "nan" if not math.isfinite(value) else f"{value:.6f}"


def train(link: str, epochs: int) -> int:
    """Train any lab's link for `epochs` epochs (fewer if the link's run finishes first), printing
    the trainer's `metrics()` after each; exit 2 for a link that cannot be built or diverges."""
    import torch

    torch.set_num_threads(1)
    try:
        lab, spec, notes = labs.decode_link(link)
    except Exception as error:  # noqa: BLE001 - the decoders never raise; if one ever does, say so plainly
        print(f"error: cannot read that link ({type(error).__name__}); nothing was trained.", file=sys.stderr)
        return 2
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    problems = lab.problems(spec)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 2
    trainer = lab.trainer(spec)
    about = trainer.about()
    if about:
        print(about, file=sys.stderr)
    print(" ".join(["epoch", *trainer.metrics()]))
    for _ in range(epochs):
        if trainer.finished:
            break
        trainer.run_epochs(1)
        if trainer.diverged:
            print(trainer.diverged, file=sys.stderr)
            return 2
        print(" ".join([str(trainer.epoch), *map(_fmt, trainer.metrics().values())]), flush=True)
    return 0


def presets(base: str) -> int:
    """Every lab's presets with their share links."""
    base = base.rstrip("/")
    for lab in labs.labs():
        print(f"{lab.title}:")
        for name, (description, spec) in lab.presets().items():
            print(f"{name}: {description}\n  {base}/{lab.url_path}?{urlencode(lab.encode(spec), safe=',')}")
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
