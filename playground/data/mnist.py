"""MNIST: an IDX reader that checks what it reads, the shipped subset, and a verified download.

MNIST (Yann LeCun, Corinna Cortes, Christopher J.C. Burges) is licensed CC BY-SA 3.0. The app
ships a reproducible subset (10,000 training and 2,000 test images drawn with a fixed seed from the
real files, see `make_subset`) so it works offline. The full set is downloaded on request, with
progress, retries, resume, SHA-256 checks of the uncompressed bytes and a per-user cache.

Nothing here trusts a file's size: a file is measured before it is read, gzip is unpacked in
bounded pieces and refused as soon as it holds more than its IDX header announces or more than
MNIST's largest file of its kind (a small "gzip bomb" never becomes gigabytes), and a download
stops once it is larger than the file it should be. Downloads and imports into the cache hold a
lock (a file in the cache folder), so two sessions or two server processes never write the same
file at once; every cache file is written under a temporary name and renamed when complete.
`load_mnist` notices new files in the cache by their size and time stamps, so a worker process
picks up a download made by the server without a restart.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..settings import read_settings

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process, and the lock below is skipped
    fcntl = None

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


def idx_size(magic: int, count: int) -> int:
    """Bytes of an uncompressed MNIST IDX file: its header, then 28x28 bytes per image or one per label."""
    return 16 + count * SIDE * SIDE if magic == IMAGE_MAGIC else 8 + count


def file_limit(unpacked: int) -> int:
    """The most bytes a file holding `unpacked` bytes of IDX can sensibly take on disk or on the wire
    (gzip's header and stored blocks can make an incompressible file slightly larger)."""
    return unpacked + unpacked // 256 + (1 << 16)


MAX_COUNT = 60_000  # MNIST's largest file holds 60,000 items
KIND_LIMIT = {IMAGE_MAGIC: idx_size(IMAGE_MAGIC, MAX_COUNT), LABEL_MAGIC: idx_size(LABEL_MAGIC, MAX_COUNT)}
MAX_IDX_BYTES = max(KIND_LIMIT.values())  # 47,040,016: the training images
MAX_FILE_BYTES = file_limit(MAX_IDX_BYTES)  # what is read from disk at most
LOCK_NAME = ".lock"  # in the cache folder; kept (removing a lock file races with those waiting on it)
LOCK_WAIT_S = 600.0  # a download waits this long for another one to finish
_PIECE = 1 << 18  # gzip is unpacked at most this many bytes at a time

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


def hosted() -> bool:
    """Whether this is a public server (PLAYGROUND_HOSTED): then no visitor names a server path.
    Read on every call (only this one setting, so other settings' problems are not logged again)."""
    return read_settings({"PLAYGROUND_HOSTED": os.environ.get("PLAYGROUND_HOSTED", "")}).hosted


HOSTED_REFUSAL = ("This is a shared server: it does not read folders named on the page. "
                  "It downloads full MNIST into its own cache instead.")


# ---- reading ----------------------------------------------------------------------------------


def _announced(head: bytes | bytearray, name: str) -> tuple[int, int, int] | None:
    """(magic, item count, total bytes) an IDX header announces, or None until `head` holds all of it."""
    if len(head) < 4:
        return None
    magic = int.from_bytes(head[:4], "big")
    if magic not in (IMAGE_MAGIC, LABEL_MAGIC):
        raise MnistError(f"{name} is not an MNIST IDX file (magic number {magic}, expected 2051 or 2049).")
    dims = 3 if magic == IMAGE_MAGIC else 1
    header = 4 + 4 * dims
    if len(head) < header:
        return None
    shape = tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    if dims == 3 and shape[1:] != (SIDE, SIDE):
        raise MnistError(f"{name} holds {shape[1]}x{shape[2]} images; MNIST images are 28x28.")
    return magic, shape[0], header + int(np.prod(shape, dtype=object))


class _Unpacked:
    """Collects unpacked bytes: first the header, then a buffer of exactly the size it announces."""

    def __init__(self, name: str, limit: int | None):
        self.name, self.limit = name, limit
        self.head = bytearray()
        self.body: bytearray | None = None
        self.filled = 0

    def room(self) -> int:
        """How much to unpack next: a little until the header is known, then up to one byte past the end."""
        if self.body is None:
            return 64
        return min(_PIECE, len(self.body) - self.filled + 1)

    def add(self, piece: bytes) -> None:
        if self.body is None:
            self.head += piece
            announced = _announced(self.head, self.name)
            if announced is None:
                return
            magic, count, size = announced
            limit = KIND_LIMIT[magic] if self.limit is None else min(self.limit, KIND_LIMIT[magic])
            if size > limit:
                kind = "images" if magic == IMAGE_MAGIC else "labels"
                raise MnistError(f"{self.name} says it holds {count:,} {kind} ({size:,} bytes), more than MNIST's "
                                 f"file of {limit:,} bytes: it was not unpacked.")
            self.body, piece, self.head = bytearray(size), bytes(self.head), bytearray()
        end = self.filled + len(piece)
        if end > len(self.body):
            raise MnistError(f"{self.name} holds more than the {len(self.body):,} bytes its header announces: it is "
                             "corrupt (or built to fill memory) and was not unpacked further.")
        self.body[self.filled : end] = piece
        self.filled = end

    def result(self) -> bytes | bytearray:
        if self.body is None:
            return bytes(self.head)  # shorter than a header: `parse_idx` says so
        del self.body[self.filled :]  # shorter than announced: `parse_idx` says it is truncated
        return self.body


def decompress(raw: bytes, name: str = "file", limit: int | None = None) -> bytes | bytearray:
    """The IDX bytes of a file that may or may not be gzip-compressed.

    gzip is unpacked a piece at a time and refused (`MnistError`) once it announces or holds more
    than MNIST's largest file of its kind (or `limit` bytes), before that much memory is taken.
    """
    if raw[:2] != b"\x1f\x8b":
        return raw
    out = _Unpacked(name, limit)
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw), mode="rb") as stream:
            while piece := stream.read(out.room()):
                out.add(piece)
    except (OSError, EOFError, zlib.error) as error:
        raise MnistError(f"{name} is a damaged gzip file ({error}).") from None
    return out.result()


def parse_idx(data: bytes | bytearray, name: str = "file") -> np.ndarray:
    """IDX bytes -> a read-only uint8 array; rejects anything that is not well-formed MNIST."""
    if len(data) < 8:
        raise MnistError(f"{name} is too short to be an IDX file ({len(data)} bytes).")
    announced = _announced(data, name)
    if announced is None:
        raise MnistError(f"{name} ends inside its header.")
    magic, count, expected = announced
    if len(data) != expected:
        raise MnistError(
            f"{name} should be {expected:,} bytes for {count:,} items but is {len(data):,}: "
            "it is truncated or corrupt."
        )
    header = 16 if magic == IMAGE_MAGIC else 8
    shape = (count, SIDE, SIDE) if magic == IMAGE_MAGIC else (count,)
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
    array.flags.writeable = False
    if magic == LABEL_MAGIC and array.size and array.max() > 9:
        raise MnistError(f"{name} has a label {int(array.max())}; MNIST labels are 0-9.")
    return array


def _read_raw(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """A file's bytes, measured before they are read: refuses what is not a plain file or is too large."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise MnistError(f"Cannot read {path}: {error.strerror or error}.") from None
    with open(fd, "rb", buffering=0) as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise MnistError(f"{path.name} is not a plain file.")
        if info.st_size > limit:
            raise MnistError(f"{path.name} is {info.st_size:,} bytes, larger than any MNIST file can be "
                             f"({limit:,} bytes): it was not read.")
        try:
            raw = file.read(info.st_size + 1)  # one byte more, to notice a file that grew since
        except OSError as error:
            raise MnistError(f"Cannot read {path}: {error.strerror or error}.") from None
    if len(raw) > info.st_size:
        raise MnistError(f"{path.name} holds more than its size on disk says (it is changing): it was not read.")
    return raw


def read_idx(path: Path) -> np.ndarray:
    path = Path(path)
    return parse_idx(decompress(_read_raw(path), path.name), path.name)


def _find(folder: Path, file_name: str) -> Path:
    for candidate in (file_name, file_name.removesuffix(".gz"), file_name.replace("-idx", ".idx").removesuffix(".gz")):
        if (folder / candidate).is_file():
            return folder / candidate
    raise MnistError(f"{folder} has no {file_name} (or its uncompressed version).")


def _read_folder(folder: Path, source: str, find: Callable[[Path, str], Path] = _find,
                 sha256: bool = False) -> tuple[Mnist, dict[str, bytes | bytearray]]:
    """The four files, checked for form and consistency (and, with `sha256`, to be MNIST's own),
    with their unpacked bytes."""
    arrays, unpacked = {}, {}
    for key, (file_name, digest, magic, _) in FILES.items():
        path = find(folder, file_name)
        data = decompress(_read_raw(path), path.name)
        array = parse_idx(data, path.name)
        if (array.ndim == 3) != (magic == IMAGE_MAGIC):
            raise MnistError(f"{path.name} holds {'images' if array.ndim == 3 else 'labels'} where {key.replace('_', ' ')} belong.")
        arrays[key], unpacked[key] = array, data
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise MnistError(f"The {split} set has {len(images):,} images but {len(labels):,} labels.")
    if sha256:
        for key, (file_name, digest, _, _) in FILES.items():
            if hashlib.sha256(unpacked[key]).hexdigest() != digest:
                raise MnistError(f"{file_name} in {folder} is a valid IDX file but not MNIST's (its SHA-256 differs).")
    return Mnist(**arrays, source=source), unpacked


def load_folder(folder: Path | str, source: str | None = None) -> Mnist:
    """The four IDX files in a folder (gzip-compressed or not), checked for consistency."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise MnistError(f"{folder} is not a folder.")
    return _read_folder(folder, source or str(folder))[0]


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


# ---- the cache: a lock, atomic writes ----------------------------------------------------------


def cache_dir() -> Path:
    """Per-user cache folder (PLAYGROUND_CACHE_DIR, else $XDG_CACHE_HOME or ~/.cache)."""
    configured = os.environ.get("PLAYGROUND_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nn-playground" / "mnist"


def mirror_url() -> str:
    return os.environ.get("PLAYGROUND_MNIST_MIRROR", DEFAULT_MIRROR)


def _make_cache(dest: Path) -> None:
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MnistError(f"Cannot create the cache folder {dest}: {error.strerror or error}.") from None


@contextmanager
def cache_lock(dest: Path, wait_s: float = LOCK_WAIT_S, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """Holds the cache folder's lock (an flock on `dest/.lock`): one writer at a time, across threads
    and processes. `waiting` is called once if another holder makes this one wait."""
    try:
        fd = os.open(dest / LOCK_NAME, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as error:
        raise MnistError(f"Cannot write to the cache folder {dest}: {error.strerror or error}.") from None
    try:
        if fcntl is not None:
            deadline = time.monotonic() + wait_s
            told = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not told and waiting:
                        waiting()
                    told = True
                    if time.monotonic() > deadline:
                        raise MnistError(f"Another download of MNIST has kept the cache busy for {wait_s:g} s; "
                                         "try again later. The shipped subset still works.") from None
                    time.sleep(0.1)
                except OSError as error:  # a file system without locks (some network mounts)
                    raise MnistError(f"Cannot lock the cache folder {dest}: {error.strerror or error}.") from None
        yield
    finally:
        os.close(fd)  # releases the lock


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - not every system opens folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _publish(temp: Path, final: Path) -> None:
    """Make a complete file visible under its final name: flushed to disk first, then renamed."""
    with open(temp, "rb+") as file:
        os.fsync(file.fileno())
    os.replace(temp, final)
    _sync_folder(final.parent)


def _verified(path: Path, sha256: str, limit: int | None = None) -> bool:
    try:
        return hashlib.sha256(decompress(_read_raw(path), path.name, limit)).hexdigest() == sha256
    except (OSError, MnistError):
        return False


# ---- downloading ------------------------------------------------------------------------------


def _fetch(url: str, part: Path, name: str, progress: Progress | None, timeout: float, max_bytes: int) -> None:
    """Download url into part, resuming from what part already holds when the server allows.
    Refuses (MnistError, part removed) a file announced or streamed larger than max_bytes."""
    have = part.stat().st_size if part.exists() else 0
    if have > max_bytes:
        part.unlink()
        have = 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = have and response.status == 206
            length = (response.headers.get("Content-Length") or "").strip()
            total = (int(length) if length.isdigit() and len(length) < 20 else 0) + (have if resumed else 0)
            done = have if resumed else 0
            if total > max_bytes:
                raise MnistError(f"{name} at {url} is {total:,} bytes, more than MNIST's file can be "
                                 f"({max_bytes:,} bytes): it was not downloaded. The shipped subset still works.")
            with open(part, "ab" if resumed else "wb") as out:
                while chunk := response.read(1 << 16):
                    done += len(chunk)
                    if done > max_bytes:
                        raise MnistError(f"{name} from {url} grew past {max_bytes:,} bytes, more than MNIST's file "
                                         "can be: the download was stopped. The shipped subset still works.")
                    out.write(chunk)
                    if progress:
                        progress(name, done, total)
    except MnistError:
        part.unlink(missing_ok=True)
        raise
    if total and done < total:  # urllib returns a short body without an error when the connection drops
        raise ConnectionError(f"the connection closed after {done:,} of {total:,} bytes")


def download(
    mirror: str | None = None,
    dest: Path | None = None,
    progress: Progress | None = None,
    retries: int = 3,
    timeout: float = 30.0,
    backoff_s: float = 1.0,
    waiting: Callable[[], None] | None = None,
) -> Path:
    """Fetch the four files into the cache (skipping verified ones); returns the folder.

    Each file is checked against the SHA-256 of its uncompressed bytes; a mismatch or a broken
    connection is retried (resuming a partial file where the server supports ranges). On failure
    no unverified file is ever used (a partial download stays as `<name>.part`, to be resumed next
    time) and `MnistError` says what went wrong. One download runs at a time per cache folder: a
    second caller (another session, another process) waits for the first (`waiting` is called
    once if it has to), then finds its verified files and fetches nothing.
    """
    mirror = (mirror or mirror_url()).rstrip("/") + "/"
    dest = Path(dest) if dest is not None else cache_dir()
    _make_cache(dest)
    with cache_lock(dest, LOCK_WAIT_S, waiting):
        for file_name, sha256, magic, count in FILES.values():
            final = dest / file_name
            size = idx_size(magic, count)
            if final.exists() and _verified(final, sha256, size):
                if progress:
                    on_disk = final.stat().st_size
                    progress(file_name, on_disk, on_disk)
                continue
            part = dest / (file_name + ".part")  # only the lock's holder touches it
            problem = ""
            for attempt in range(retries):
                try:
                    _fetch(mirror + file_name, part, file_name, progress, timeout, file_limit(size))
                except (urllib.error.URLError, OSError, TimeoutError) as error:
                    problem = f"could not download {file_name} from {mirror}: {getattr(error, 'reason', error)}"
                    if getattr(error, "code", None) == 416:  # the .part is not a resumable prefix: start afresh
                        part.unlink(missing_ok=True)
                    time.sleep(backoff_s * (attempt + 1))
                    continue
                if _verified(part, sha256, size):
                    try:
                        _publish(part, final)
                    except OSError as error:
                        raise MnistError(f"Cannot write to the cache folder {dest}: {error.strerror or error}.") from None
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
    holds verified files. A hosted server (PLAYGROUND_HOSTED) refuses before looking at the path.
    """
    if hosted():
        raise MnistError(HOSTED_REFUSAL)
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise MnistError(f"{folder} is not a folder.")
    _, unpacked = _read_folder(folder, str(folder), sha256=True)  # magic numbers, sizes, counts, checksums
    dest = Path(dest) if dest is not None else cache_dir()
    _make_cache(dest)
    try:
        with cache_lock(dest):
            for key, (file_name, _, _, _) in FILES.items():
                temp = dest / f".{file_name}.{os.getpid()}-{threading.get_ident()}.tmp"
                try:
                    with gzip.GzipFile(temp, "wb", compresslevel=1, mtime=0) as out:  # speed over size
                        out.write(unpacked[key])
                    _publish(temp, dest / file_name)
                finally:
                    temp.unlink(missing_ok=True)
    except OSError as error:
        raise MnistError(f"Cannot write to the cache folder {dest}: {error.strerror or error}.") from None
    return dest


# ---- what the pages and workers load ------------------------------------------------------------


def _stamp(folder: Path) -> tuple | None:
    """The cache files' (inode, size, modification time), or None while one is missing: cheap to take,
    and it changes whenever a file is written (they are only ever replaced by a rename)."""
    stamp = []
    for file_name, _, _, _ in FILES.values():
        try:
            info = os.stat(folder / file_name)
        except OSError:
            return None
        stamp.append((info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(stamp)


def _exact(folder: Path, file_name: str) -> Path:
    return folder / file_name


@lru_cache(maxsize=1)
def _full_at(folder: str, stamp: tuple) -> Mnist | None:
    try:
        return _read_folder(Path(folder), "full MNIST (60,000 training / 10,000 test images)", _exact, sha256=True)[0]
    except MnistError:
        return None


@lru_cache(maxsize=4)
def _ready_at(folder: str, stamp: tuple) -> bool:
    return all(_verified(Path(folder) / f, sha, idx_size(magic, count)) for f, sha, magic, count in FILES.values())


_load_lock = threading.Lock()  # one thread loads (or checks) the files; the others wait for its answer


def cached_full() -> Mnist | None:
    """Full MNIST from the cache if all four files are there and verified, else None.
    Loaded once per version of the files: a new download is seen at the next call."""
    folder = cache_dir()
    stamp = _stamp(folder)
    if stamp is None:
        return None
    with _load_lock:
        return _full_at(str(folder), stamp)


def full_ready() -> bool:
    """Whether verified full MNIST is in the cache, without keeping it in memory (checked once per
    version of the files)."""
    folder = cache_dir()
    stamp = _stamp(folder)
    if stamp is None:
        return False
    with _load_lock:
        return _ready_at(str(folder), stamp)


@lru_cache(maxsize=1)
def _shipped_once() -> Mnist:
    return shipped()


def load_mnist(source: str) -> Mnist:
    """MNIST for a spec's data source: the full set if downloaded, else the subset.

    The data is loaded once per process and shared; each call only looks at the cache files'
    stamps (a few `stat`s), so a process that fell back to the subset gets the full set as soon as
    it is downloaded, and the same `Mnist` object for as long as the files stay the same.
    """
    if source == "full":
        full = cached_full()
        if full is not None:
            return full
    return _shipped_once()


def _clear_caches() -> None:
    for cached in (_full_at, _ready_at, _shipped_once):
        cached.cache_clear()


load_mnist.cache_clear = _clear_caches  # as when it was an lru_cache; no longer needed after a download
