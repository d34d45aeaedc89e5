"""TensorFlow Playground links -> our share-link parameters.

Our parameter names are TF Playground's wherever a setting exists there, so importing is mostly
passing parameters through. What differs: TF Playground's seed is a string for its own random
generator (we derive a whole number from it; the points differ), and some of its settings have
no counterpart here. Everything not converted is listed for the person.
"""

from __future__ import annotations

import zlib

from .sharelink import FEATURES, _flatten, decode, parse_link
from .spec import LIMITS, RunSpec

# TF Playground parameters that map one-to-one onto ours.
PASSED = (
    "activation", "batchSize", "dataset", "regDataset", "learningRate", "regularizationRate",
    "regularization", "noise", "networkShape", "showTestData", "discretize", "percTrainData",
    "problem", "initZero", *FEATURES,
)
# Display-only settings of TF Playground; nothing to convert, nothing lost.
IGNORED_QUIETLY = ("hideText", "collectStats", "tutorial")
# Features TF Playground has (hidden in its UI) that we do not offer.
UNSUPPORTED_FEATURES = ("cosX", "cosY")


def tfp_seed_to_int(seed: str) -> int:
    """A stable whole-number seed for TF Playground's seed string."""
    text = seed.strip()
    # ASCII digits only: str.isdigit() also passes '²' (int() refuses it) and '١٢'; and few enough for int()
    if text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= LIMITS["seed"].hi:
        return int(text)
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) & LIMITS["seed"].hi


def translate(link: str) -> tuple[dict[str, str], list[str]]:
    """A pasted TF Playground URL (or its '#...' part) -> our parameters and notes."""
    raw, notes = _flatten(parse_link(link))  # a repeated setting: its last value, with a note
    params: dict[str, str] = {}
    if not raw:
        return params, ["No settings found in that link: paste the whole address, including its '#' part."]
    for name, value in raw.items():
        if name in PASSED:
            params[name] = value
        elif name == "seed":
            params["seed"] = str(tfp_seed_to_int(value))
            notes.append(
                f"seed: TensorFlow Playground's seed {value[:20]!r} became {params['seed']}; "
                "the points are drawn by a different generator, so they look alike but are not the same."
            )
        elif name in UNSUPPORTED_FEATURES:
            if value == "true":
                notes.append(f"{name}: this input feature is not offered here; left out.")
        elif name in IGNORED_QUIETLY:
            continue
        else:
            notes.append(f"{name[:40]!r} is not a TensorFlow Playground setting we know; ignored.")
    if raw.get("problem", "classification") == "classification":
        notes.append(
            "TensorFlow Playground trains classifiers with squared error on a tanh output; "
            "here the output is a sigmoid trained with binary cross-entropy, so loss values differ."
        )
    return params, notes


def import_link(link: str) -> tuple[RunSpec, list[str]]:
    """A pasted TF Playground link -> a valid spec and every note about the conversion."""
    params, notes = translate(link)
    spec, decode_notes = decode(params)
    return spec, notes + decode_notes
