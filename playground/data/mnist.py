"""MNIST: an IDX reader that checks what it reads, the shipped subset, and a verified download.

MNIST (Yann LeCun, Corinna Cortes, Christopher J.C. Burges) is licensed CC BY-SA 3.0. The app
ships a reproducible subset (10,000 training and 2,000 test images drawn with a fixed seed from the
real files, see `make_subset`) so it works offline. The full set is downloaded on request, with
progress, retries, resume, SHA-256 checks of the uncompressed bytes and a per-user cache.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
SIDE = 28
SHIPPED_DIR = Path(__file__).with_name("mnist_subset")
SUBSET_SIZES = (10_000, 2_000)
SUBSET_SEED = 0
DEFAULT_MIRROR = "https://storage.googleapis.com/cvdf-datasets/mnist/"

# name -> (file, SHA-256 of the uncompressed bytes, magic, count)
FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", IMAGE_MAGIC, 60_000),
    "train_labels": ("train-labels-idx1-ubyte.gz", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", LABEL_MAGIC, 60_000),
    "test_images": ("t10k-images-idx3-ubyte.gz", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", IMAGE_MAGIC, 10_000),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", LABEL_MAGIC, 10_000),
}

Progress = Callable[[str, int, int], None]  # (file name, bytes so far, total bytes or 0)


class MnistError(ValueError):
    """A problem with MNIST files, in words a person can act on."""


@dataclass(frozen=True)
class Mnist:
    train_images: np.ndarray  # (N, 28, 28) uint8, read-only
    train_labels: np.ndarray  # (N,) uint8
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # what the person is told: "shipped subset", "full MNIST", a folder


# ---- reading ----------------------------------------------------------------------------------


def decompress(raw: bytes, name: str = "file") -> bytes:
    """The IDX bytes of a file that may or may not be gzip-compressed."""
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise MnistError(f"{name} is a damaged gzip file ({error}).") from None
    return raw


def parse_idx(data: bytes, name: str = "file") -> np.ndarray:
    """IDX bytes -> a read-only uint8 array; rejects anything that is not well-formed MNIST."""
    if len(data) < 8:
        raise MnistError(f"{name} is too short to be an IDX file ({len(data)} bytes).")
    magic = int.from_bytes(data[:4], "big")
    if magic not in (IMAGE_MAGIC, LABEL_MAGIC):
        raise MnistError(f"{name} is not an MNIST IDX file (magic number {magic}, expected 2051 or 2049).")
    dims = 3 if magic == IMAGE_MAGIC else 1
    header = 4 + 4 * dims
    if len(data) < header:
        raise MnistError(f"{name} ends inside its header.")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    if dims == 3 and shape[1:] != (SIDE, SIDE):
        raise MnistError(f"{name} holds {shape[1]}x{shape[2]} images; MNIST images are 28x28.")
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise MnistError(
            f"{name} should be {expected:,} bytes for {shape[0]:,} items but is {len(data):,}: "
            "it is truncated or corrupt."
        )
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
    if dims == 1 and array.size and array.max() > 9:
        raise MnistError(f"{name} has a label {int(array.max())}; MNIST labels are 0-9.")
    return array


def read_idx(path: Path) -> np.ndarray:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise MnistError(f"Cannot read {path}: {error.strerror or error}.") from None
    return parse_idx(decompress(raw, path.name), path.name)


def _find(folder: Path, file_name: str) -> Path:
    for candidate in (file_name, file_name.removesuffix(".gz"), file_name.replace("-idx", ".idx").removesuffix(".gz")):
        if (folder / candidate).is_file():
            return folder / candidate
    raise MnistError(f"{folder} has no {file_name} (or its uncompressed version).")


def load_folder(folder: Path | str, source: str | None = None) -> Mnist:
    """The four IDX files in a folder (gzip-compressed or not), checked for consistency."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise MnistError(f"{folder} is not a folder.")
    arrays = {}
    for key, (file_name, _, magic, _) in FILES.items():
        path = _find(folder, file_name)
        array = read_idx(path)
        if (array.ndim == 3) != (magic == IMAGE_MAGIC):
            raise MnistError(f"{path.name} holds {'images' if array.ndim == 3 else 'labels'} where {key.replace('_', ' ')} belong.")
        arrays[key] = array
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise MnistError(f"The {split} set has {len(images):,} images but {len(labels):,} labels.")
    return Mnist(**arrays, source=source or str(folder))


def shipped() -> Mnist:
    """The subset that ships with the app (works offline)."""
    return load_folder(SHIPPED_DIR, source="shipped subset (10,000 training / 2,000 test images)")


def make_subset(full: Mnist, dest: Path, sizes: tuple[int, int] = SUBSET_SIZES, seed: int = SUBSET_SEED) -> None:
    """Write the reproducible subset: the first `sizes` of a seeded permutation of each split."""
    rng = np.random.default_rng(seed)
    dest.mkdir(parents=True, exist_ok=True)
    for split, size in zip(("train", "test"), sizes):
        images, labels = getattr(full, f"{split}_images"), getattr(full, f"{split}_labels")
        keep = np.sort(rng.permutation(len(images))[:size])
        for key, array in ((f"{split}_images", images[keep]), (f"{split}_labels", labels[keep])):
            file_name, _, magic, _ = FILES[key]
            header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
            with gzip.GzipFile(dest / file_name, "wb", mtime=0) as out:
                out.write(header + array.tobytes())


# ---- downloading ------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Per-user cache folder (PLAYGROUND_CACHE_DIR, else $XDG_CACHE_HOME or ~/.cache)."""
    configured = os.environ.get("PLAYGROUND_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nn-playground" / "mnist"


def mirror_url() -> str:
    return os.environ.get("PLAYGROUND_MNIST_MIRROR", DEFAULT_MIRROR)


def _verified(path: Path, sha256: str) -> bool:
    try:
        return hashlib.sha256(decompress(path.read_bytes())).hexdigest() == sha256
    except (OSError, MnistError):
        return False


def _fetch(url: str, part: Path, name: str, progress: Progress | None, timeout: float) -> None:
    """Download url into part, resuming from what part already holds when the server allows."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        resumed = have and response.status == 206
        total = int(response.headers.get("Content-Length") or 0) + (have if resumed else 0)
        done = have if resumed else 0
        with open(part, "ab" if resumed else "wb") as out:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(name, done, total)
    if total and done < total:  # urllib returns a short body without an error when the connection drops
        raise ConnectionError(f"the connection closed after {done:,} of {total:,} bytes")


def download(
    mirror: str | None = None,
    dest: Path | None = None,
    progress: Progress | None = None,
    retries: int = 3,
    timeout: float = 30.0,
    backoff_s: float = 1.0,
) -> Path:
    """Fetch the four files into the cache (skipping verified ones); returns the folder.

    Each file is checked against the SHA-256 of its uncompressed bytes; a mismatch or a broken
    connection is retried (resuming a partial file where the server supports ranges). On failure
    no unverified file is ever used (a partial download stays as `<name>.part`, to be resumed next
    time) and `MnistError` says what went wrong.
    """
    mirror = (mirror or mirror_url()).rstrip("/") + "/"
    dest = Path(dest) if dest is not None else cache_dir()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MnistError(f"Cannot create the cache folder {dest}: {error.strerror or error}.") from None
    for file_name, sha256, _, _ in FILES.values():
        final = dest / file_name
        if final.exists() and _verified(final, sha256):
            if progress:
                size = final.stat().st_size
                progress(file_name, size, size)
            continue
        part = dest / (file_name + ".part")
        problem = ""
        for attempt in range(retries):
            try:
                _fetch(mirror + file_name, part, file_name, progress, timeout)
            except (urllib.error.URLError, OSError, TimeoutError) as error:
                problem = f"could not download {file_name} from {mirror}: {getattr(error, 'reason', error)}"
                if getattr(error, "code", None) == 416:  # the .part is not a resumable prefix: start afresh
                    part.unlink(missing_ok=True)
                time.sleep(backoff_s * (attempt + 1))
                continue
            if _verified(part, sha256):
                part.replace(final)
                problem = ""
                break
            problem = f"{file_name} from {mirror} failed its SHA-256 check"
            part.unlink(missing_ok=True)  # a corrupt file cannot be resumed
        if problem:
            raise MnistError(f"Download failed after {retries} attempts: {problem}. The shipped subset still works.")
    return dest


def import_folder(folder: Path | str, dest: Path | None = None) -> Path:
    """Copy a person's own MNIST files into the cache, after checking that they are MNIST.

    Valid IDX files that are not MNIST (other checksums) are refused, so the cache only ever
    holds verified files.
    """
    folder = Path(folder).expanduser()
    load_folder(folder)  # magic numbers, sizes, counts
    dest = Path(dest) if dest is not None else cache_dir()
    verified = {}
    for file_name, sha256, _, _ in FILES.values():
        data = decompress(_find(folder, file_name).read_bytes(), file_name)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise MnistError(f"{file_name} in {folder} is a valid IDX file but not MNIST's (its SHA-256 differs).")
        verified[file_name] = data
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for file_name, data in verified.items():
            with gzip.GzipFile(dest / file_name, "wb", compresslevel=1, mtime=0) as out:  # speed over size
                out.write(data)
    except OSError as error:
        raise MnistError(f"Cannot write to the cache folder {dest}: {error.strerror or error}.") from None
    return dest


def cached_full() -> Mnist | None:
    """Full MNIST from the cache if all four files are there and verified, else None."""
    folder = cache_dir()
    if all((folder / f).exists() and _verified(folder / f, sha) for f, sha, _, _ in FILES.values()):
        return load_folder(folder, source="full MNIST (60,000 training / 10,000 test images)")
    return None


@lru_cache(maxsize=2)
def load_mnist(source: str) -> Mnist:
    """MNIST for a spec's data source, once per process: the full set if downloaded, else the subset."""
    if source == "full":
        full = cached_full()
        if full is not None:
            return full
    return shipped()
