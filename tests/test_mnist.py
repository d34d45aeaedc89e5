"""MNIST files: the checked IDX reader, the reproducible shipped subset, the verified download.

The real MNIST files (../shared/data/mnist next to the repository) are read by these tests only;
the product never looks there. The downloader is exercised against a local HTTP server on
127.0.0.1 that serves those files and can be told to fail, drop the connection or corrupt a file.
"""

from __future__ import annotations

import os

import gzip
import hashlib
import re
import shutil
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from playground.data import mnist
from playground.data.mnist import FILES, MnistError
from tests.conftest import ROOT

REAL = ROOT.parent / "shared" / "data" / "mnist"
NAMES = [file_name for file_name, _, _, _ in FILES.values()]

HAVE_REAL = all((REAL / n).is_file() for n in NAMES)
if not HAVE_REAL and "CI" in os.environ:  # CI always has shared/ beside the clone: missing files are a failure
    pytest.fail(f"real MNIST files not in {REAL}", pytrace=False)
needs_real = pytest.mark.skipif(not HAVE_REAL, reason=f"real MNIST files not in {REAL}")


@pytest.fixture(scope="module")
def real() -> mnist.Mnist:
    if not HAVE_REAL:
        pytest.skip(f"real MNIST files not in {REAL}")
    return mnist.load_folder(REAL)


def idx(magic: int, shape: tuple[int, ...], data: bytes | None = None) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in shape)
    return header + (bytes(int(np.prod(shape))) if data is None else data)


def write_folder(folder: Path, train=(3, 3), test=(2, 2), side=28, label_value=1) -> Path:
    """A tiny, well-formed four-file IDX folder (counts of images and labels per split)."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = {"train_images": train[0], "train_labels": train[1], "test_images": test[0], "test_labels": test[1]}
    for key, (file_name, _, magic, _) in FILES.items():
        n = counts[key]
        if magic == mnist.IMAGE_MAGIC:
            body = idx(magic, (n, side, side))
        else:
            body = idx(magic, (n,), bytes([label_value]) * n)
        (folder / file_name.removesuffix(".gz")).write_bytes(body)
    return folder


# ---- the reader on the real files ----------------------------------------------------------------


def test_real_files_read_with_the_right_shapes_and_first_labels(real):
    assert real.train_images.shape == (60_000, 28, 28) and real.train_images.dtype == np.uint8
    assert real.train_labels.shape == (60_000,)
    assert real.test_images.shape == (10_000, 28, 28)
    assert real.test_labels.shape == (10_000,)
    assert real.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert real.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert real.train_images.max() == 255 and real.train_images.min() == 0
    assert not real.train_images.flags.writeable  # shared, read-only
    assert np.bincount(real.train_labels, minlength=10).min() > 5000


@needs_real
def test_read_idx_reads_gzip_and_uncompressed_alike(tmp_path):
    gz = REAL / "t10k-labels-idx1-ubyte.gz"
    plain = tmp_path / "t10k-labels-idx1-ubyte"
    plain.write_bytes(gzip.decompress(gz.read_bytes()))
    assert np.array_equal(mnist.read_idx(gz), mnist.read_idx(plain))
    assert mnist.read_idx(plain)[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


@needs_real
def test_checksums_in_the_code_match_the_real_files():
    listed = {line.split()[1]: line.split()[0] for line in (REAL / "SHA256SUMS.uncompressed").read_text().splitlines() if line.strip()}
    for file_name, sha256, _, _ in FILES.values():
        data = gzip.decompress((REAL / file_name).read_bytes())
        assert hashlib.sha256(data).hexdigest() == sha256 == listed[file_name], file_name


# ---- the shipped subset ---------------------------------------------------------------------------


def test_shipped_subset_is_what_make_subset_draws_from_the_real_files(real, tmp_path):
    mnist.make_subset(real, tmp_path)
    made = mnist.load_folder(tmp_path)
    shipped = mnist.shipped()
    assert shipped.train_images.shape == (10_000, 28, 28) and shipped.test_images.shape == (2_000, 28, 28)
    for key in FILES:
        assert np.array_equal(getattr(made, key), getattr(shipped, key)), key
    for file_name in NAMES:
        ours, theirs = (tmp_path / file_name).read_bytes(), (mnist.SHIPPED_DIR / file_name).read_bytes()
        assert gzip.decompress(ours) == gzip.decompress(theirs), file_name
    # It is the documented draw: the sorted first 10,000 of a seeded permutation of the training set.
    rng = np.random.default_rng(mnist.SUBSET_SEED)
    train_keep = np.sort(rng.permutation(60_000)[:10_000])
    assert np.array_equal(shipped.train_images, real.train_images[train_keep])
    assert np.array_equal(shipped.train_labels, real.train_labels[train_keep])
    assert set(np.unique(shipped.test_labels).tolist()) == set(range(10))


# ---- corrupt files ---------------------------------------------------------------------------------


def test_wrong_magic_is_rejected():
    with pytest.raises(MnistError, match=r"not an MNIST IDX file \(magic number 1234"):
        mnist.parse_idx(idx(1234, (1,), b"\x01"), "x.idx")


def test_too_short_and_truncated_header_are_rejected():
    with pytest.raises(MnistError, match="too short"):
        mnist.parse_idx(b"\x00\x00\x08", "tiny")
    with pytest.raises(MnistError, match="tiny2 ends inside its header"):
        mnist.parse_idx(mnist.IMAGE_MAGIC.to_bytes(4, "big") + (5).to_bytes(4, "big") + b"\x00\x00", "tiny2")


@needs_real
def test_truncated_data_is_rejected(tmp_path):
    data = gzip.decompress((REAL / "t10k-labels-idx1-ubyte.gz").read_bytes())
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(data[:-5])
    with pytest.raises(MnistError, match=r"t10k-labels-idx1-ubyte should be 10,008 bytes .* is 10,003.*truncated"):
        mnist.read_idx(path)
    path.write_bytes(data + b"\x00")  # trailing bytes are just as wrong
    with pytest.raises(MnistError, match="truncated or corrupt"):
        mnist.read_idx(path)


@needs_real
def test_damaged_gzip_is_rejected(tmp_path):
    raw = (REAL / "t10k-labels-idx1-ubyte.gz").read_bytes()
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(MnistError, match="t10k-labels-idx1-ubyte.gz is a damaged gzip file"):
        mnist.read_idx(path)
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(MnistError, match="damaged gzip"):
        mnist.read_idx(path)


def test_images_that_are_not_28x28_are_rejected():
    with pytest.raises(MnistError, match="holds 27x27 images; MNIST images are 28x28"):
        mnist.parse_idx(idx(mnist.IMAGE_MAGIC, (2, 27, 27)), "small")


def test_labels_above_9_are_rejected():
    with pytest.raises(MnistError, match="has a label 12; MNIST labels are 0-9"):
        mnist.parse_idx(idx(mnist.LABEL_MAGIC, (3,), bytes([1, 12, 3])), "labels")
    assert mnist.parse_idx(idx(mnist.LABEL_MAGIC, (3,), bytes([1, 9, 0])), "labels").tolist() == [1, 9, 0]


def test_load_folder_checks_counts_kinds_and_presence(tmp_path):
    good = mnist.load_folder(write_folder(tmp_path / "good"))
    assert good.train_images.shape == (3, 28, 28) and good.test_labels.tolist() == [1, 1]

    with pytest.raises(MnistError, match="The train set has 3 images but 4 labels"):
        mnist.load_folder(write_folder(tmp_path / "mismatch", train=(3, 4)))

    swapped = write_folder(tmp_path / "swapped")
    (swapped / "t10k-labels-idx1-ubyte").write_bytes((swapped / "t10k-images-idx3-ubyte").read_bytes())
    with pytest.raises(MnistError, match="holds images where test labels belong"):
        mnist.load_folder(swapped)

    missing = write_folder(tmp_path / "missing")
    (missing / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(MnistError, match=r"has no t10k-labels-idx1-ubyte.gz \(or its uncompressed version\)"):
        mnist.load_folder(missing)

    with pytest.raises(MnistError, match="is not a folder"):
        mnist.load_folder(tmp_path / "nowhere")
    with pytest.raises(MnistError, match="Cannot read .*absent-idx1-ubyte"):
        mnist.read_idx(tmp_path / "absent-idx1-ubyte")


# ---- the downloader against a local server ---------------------------------------------------------


@dataclass
class ServerState:
    files: dict[str, bytes]
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (file name, Range header)
    corrupt: dict[str, bytes] = field(default_factory=dict)  # name -> bytes served instead
    drop: dict[str, int] = field(default_factory=dict)  # name -> responses to cut off halfway
    fail: dict[str, int] = field(default_factory=dict)  # name -> responses answered 503
    ranges: bool = True
    delay: dict[str, float] = field(default_factory=dict)  # name -> seconds to wait before answering
    no_length: bool = False  # send bodies without Content-Length, ending them by closing the connection
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, name: str) -> list[str | None]:
        return [r for n, r in self.requests if n == name]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        state: ServerState = self.server.state
        name = self.path.rsplit("/", 1)[-1]
        requested = self.headers.get("Range")
        with state.lock:
            state.requests.append((name, requested))
            failing = state.fail.get(name, 0) > 0
            if failing:
                state.fail[name] -= 1
            dropping = state.drop.get(name, 0) > 0
            if dropping:
                state.drop[name] -= 1
        if not self.path.startswith("/mnist/") or name not in state.files:
            self.send_error(404)
            return
        time.sleep(state.delay.get(name, 0.0))
        if failing:
            self.send_error(503, "try again")
            return
        data = state.corrupt.get(name, state.files[name])
        if state.no_length:
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                self.wfile.write(data)
            except ConnectionError:  # the client stopped reading: expected when it refuses a file
                pass
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", requested or "")
        if match and state.ranges and int(match[1]) >= len(data):  # as real servers answer
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if match and state.ranges:
            start = int(match[1])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if dropping:  # the connection ends halfway through the body
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        try:
            self.wfile.write(body)
        except ConnectionError:  # the client stopped reading: expected when it refuses a file
            self.close_connection = True


@pytest.fixture(scope="module")
def real_gz() -> dict[str, bytes]:
    if not HAVE_REAL:
        pytest.skip(f"real MNIST files not in {REAL}")
    return {name: (REAL / name).read_bytes() for name in NAMES}


@pytest.fixture
def server(real_gz):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.state = ServerState(files=dict(real_gz))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.mirror = f"http://127.0.0.1:{httpd.server_address[1]}/mnist/"
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


FAST = {"retries": 2, "timeout": 10.0, "backoff_s": 0.01}


def files_in(folder: Path) -> list[str]:
    """What a cache folder holds besides its lock file (kept: removing a lock file is a race)."""
    return sorted(p.name for p in folder.iterdir() if p.name != mnist.LOCK_NAME)


def assert_cache_is_full_mnist(folder: Path) -> None:
    assert files_in(folder) == sorted(NAMES)
    full = mnist.load_folder(folder)
    assert full.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert full.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_download_reports_growing_progress_and_verifies(server, tmp_path):
    calls: list[tuple[str, int, int]] = []
    dest = mnist.download(server.mirror, tmp_path / "cache", progress=lambda *a: calls.append(a), **FAST)
    assert dest == tmp_path / "cache"
    assert_cache_is_full_mnist(dest)
    assert [n for n, _ in server.state.requests] == NAMES  # one request per file, in order
    for name in NAMES:
        mine = [(done, total) for n, done, total in calls if n == name]
        size = len(server.state.files[name])
        assert mine, name
        done = [d for d, _ in mine]
        assert done == sorted(done) and len(set(done)) == len(done), f"{name}: byte counts must grow"
        assert done[-1] == size and all(total == size for _, total in mine)
    assert len([c for c in calls if c[0] == "train-images-idx3-ubyte.gz"]) > 10  # reported while it comes in


def test_second_download_is_a_cache_hit(server, tmp_path):
    mnist.download(server.mirror, tmp_path, **FAST)
    server.state.requests.clear()
    calls: list[tuple[str, int, int]] = []
    mnist.download(server.mirror, tmp_path, progress=lambda *a: calls.append(a), **FAST)
    assert server.state.requests == []
    assert [c[0] for c in calls] == NAMES and all(c[1] == c[2] > 0 for c in calls)


def test_a_damaged_cached_file_is_downloaded_again(server, tmp_path):
    mnist.download(server.mirror, tmp_path, **FAST)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not mnist")
    server.state.requests.clear()
    mnist.download(server.mirror, tmp_path, **FAST)
    assert [n for n, _ in server.state.requests] == ["t10k-labels-idx1-ubyte.gz"]
    assert_cache_is_full_mnist(tmp_path)


def test_checksum_mismatch_names_the_file_and_leaves_nothing_unverified(server, tmp_path):
    name = "train-labels-idx1-ubyte.gz"
    labels = bytearray(gzip.decompress(server.state.files[name]))
    labels[-1] = (labels[-1] + 1) % 10  # still a well-formed label file, but not MNIST's
    server.state.corrupt[name] = gzip.compress(bytes(labels))
    with pytest.raises(MnistError, match=rf"after 2 attempts: {re.escape(name)} from .* failed its SHA-256 check") as info:
        mnist.download(server.mirror, tmp_path, **FAST)
    assert "shipped subset still works" in str(info.value)
    assert len(server.state.count(name)) == 2  # retried
    left = files_in(tmp_path)
    assert left == ["train-images-idx3-ubyte.gz"], left  # the verified file before it, nothing else
    assert mnist._verified(tmp_path / left[0], FILES["train_images"][1])


def test_a_corrupted_gzip_stream_fails_the_check_too(server, tmp_path):
    name = "t10k-labels-idx1-ubyte.gz"
    broken = bytearray(server.state.files[name])
    broken[len(broken) // 2] ^= 0xFF
    server.state.corrupt[name] = bytes(broken)
    with pytest.raises(MnistError, match=re.escape(name) + " from .* failed its SHA-256 check"):
        mnist.download(server.mirror, tmp_path, **FAST)
    assert name not in {p.name for p in tmp_path.iterdir()}
    assert not list(tmp_path.glob("*.part"))


def test_a_dropped_connection_is_retried_and_resumed(server, tmp_path):
    name = "train-images-idx3-ubyte.gz"
    size = len(server.state.files[name])
    server.state.drop[name] = 1
    calls: list[tuple[str, int, int]] = []
    mnist.download(server.mirror, tmp_path, progress=lambda *a: calls.append(a), **FAST)
    ranges = server.state.count(name)
    assert ranges == [None, f"bytes={size // 2}-"], ranges  # the second request resumes
    assert_cache_is_full_mnist(tmp_path)
    assert not list(tmp_path.glob("*.part"))
    done = [d for n, d, _ in calls if n == name]
    assert done[-1] == size and max(done) == size


def test_a_leftover_partial_file_is_resumed_or_replaced(server, tmp_path):
    images, labels = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"
    (tmp_path / (images + ".part")).write_bytes(server.state.files[images][:1000])  # an interrupted run's
    (tmp_path / (labels + ".part")).write_bytes(server.state.files[labels])  # complete, never verified
    mnist.download(server.mirror, tmp_path, **FAST)
    assert server.state.count(images) == ["bytes=1000-"]
    assert server.state.count(labels)[-1] is None  # started afresh after the server refused the range
    assert_cache_is_full_mnist(tmp_path)


def test_a_server_without_ranges_still_ends_verified(server, tmp_path):
    name = "train-labels-idx1-ubyte.gz"
    server.state.drop[name] = 1
    server.state.ranges = False
    mnist.download(server.mirror, tmp_path, **FAST)
    assert len(server.state.count(name)) == 2
    assert_cache_is_full_mnist(tmp_path)


def test_server_errors_are_retried_then_reported(server, tmp_path):
    server.state.fail["t10k-images-idx3-ubyte.gz"] = 1  # once: retried
    mnist.download(server.mirror, tmp_path / "a", **FAST)
    assert_cache_is_full_mnist(tmp_path / "a")
    assert len(server.state.count("t10k-images-idx3-ubyte.gz")) == 2

    server.state.fail["t10k-labels-idx1-ubyte.gz"] = 5  # always: reported
    with pytest.raises(MnistError, match=r"after 2 attempts: could not download t10k-labels-idx1-ubyte.gz from http://127\.0\.0\.1"):
        mnist.download(server.mirror, tmp_path / "b", **FAST)
    assert "t10k-labels-idx1-ubyte.gz" not in {p.name for p in (tmp_path / "b").iterdir()}


def test_environment_variables_choose_cache_and_mirror(server, tmp_path, monkeypatch):
    cache = tmp_path / "my cache"
    monkeypatch.setenv("PLAYGROUND_CACHE_DIR", str(cache))
    monkeypatch.setenv("PLAYGROUND_MNIST_MIRROR", server.mirror)
    assert mnist.cache_dir() == cache and mnist.mirror_url() == server.mirror
    assert mnist.cached_full() is None
    mnist.load_mnist.cache_clear()
    try:
        assert mnist.load_mnist("full").source.startswith("shipped subset")  # nothing downloaded yet
        assert mnist.download(**FAST) == cache
        assert len(server.state.requests) == 4
        assert_cache_is_full_mnist(cache)
        full = mnist.cached_full()
        assert full is not None and full.source.startswith("full MNIST") and len(full.train_images) == 60_000
        mnist.load_mnist.cache_clear()
        assert len(mnist.load_mnist("full").train_images) == 60_000
        assert len(mnist.load_mnist("subset").train_images) == 10_000
    finally:
        mnist.load_mnist.cache_clear()

    monkeypatch.delenv("PLAYGROUND_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist.cache_dir() == tmp_path / "xdg" / "nn-playground" / "mnist"
    monkeypatch.delenv("PLAYGROUND_MNIST_MIRROR")
    assert mnist.mirror_url() == mnist.DEFAULT_MIRROR


# ---- importing a person's own files ------------------------------------------------------------------


@needs_real
def test_import_folder_accepts_the_real_files_gzipped(tmp_path):
    dest = mnist.import_folder(REAL, tmp_path / "cache")
    assert_cache_is_full_mnist(dest)
    for file_name, sha256, _, _ in FILES.values():
        assert mnist._verified(dest / file_name, sha256)


@needs_real
def test_import_folder_accepts_the_real_files_uncompressed(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    for i, name in enumerate(NAMES):
        # both spellings people have: train-images-idx3-ubyte and train-images.idx3-ubyte
        target = name.removesuffix(".gz") if i % 2 else name.replace("-idx", ".idx").removesuffix(".gz")
        (plain / target).write_bytes(gzip.decompress((REAL / name).read_bytes()))
    dest = mnist.import_folder(plain, tmp_path / "cache")
    assert_cache_is_full_mnist(dest)


def test_import_folder_refuses_valid_idx_files_that_are_not_mnist(tmp_path):
    dest = tmp_path / "cache"
    with pytest.raises(MnistError, match="train-images-idx3-ubyte.gz in .* is a valid IDX file but not MNIST's"):
        mnist.import_folder(mnist.SHIPPED_DIR, dest)
    assert not dest.exists() or not any(dest.iterdir())
    with pytest.raises(MnistError, match="The train set has 3 images but 4 labels"):
        mnist.import_folder(write_folder(tmp_path / "odd", train=(3, 4)), dest)
    assert not dest.exists() or not any(dest.iterdir())


@needs_real
def test_import_folder_refuses_a_single_foreign_file(tmp_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for name in NAMES:  # the real training set with the shipped subset's test set
        source = mnist.SHIPPED_DIR if name.startswith("t10k") else REAL
        shutil.copyfile(source / name, mixed / name)
    with pytest.raises(MnistError, match="t10k-images-idx3-ubyte.gz in .* not MNIST's"):
        mnist.import_folder(mixed, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


# ---- bounded unpacking: gzip bombs and oversized files -------------------------------------------------


def gzip_bomb(mib: int, prefix: bytes = b"") -> bytes:
    """A valid gzip file of `prefix` then `mib` MiB of zeros, about 1 kB per MiB, built in well under a
    second: once deflate's window is all zeros, each further MiB compresses to the same block."""
    zeros = bytes(1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = packer.compress(prefix + zeros) + packer.flush(zlib.Z_SYNC_FLUSH)
    block = packer.compress(zeros) + packer.flush(zlib.Z_SYNC_FLUSH)
    assert block == packer.compress(zeros) + packer.flush(zlib.Z_SYNC_FLUSH)  # the block repeats
    crc = zlib.crc32(prefix)
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    size = len(prefix) + (mib << 20)
    empty_last_block = b"\x03\x00"
    return first + block * (mib - 1) + empty_last_block + struct.pack("<II", crc, size & 0xFFFFFFFF)


def peak_mib(action) -> tuple[float, Exception | None]:
    """The most memory (MiB, as tracemalloc counts Python's and numpy's allocations) that `action`
    held at once beyond what was allocated before it, and the MnistError it raised."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        error = None
        try:
            action()
        except MnistError as raised:
            error = raised
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return peak / 2**20, error


def image_header(count: int) -> bytes:
    return mnist.IMAGE_MAGIC.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (count, 28, 28))


def label_header(count: int) -> bytes:
    return mnist.LABEL_MAGIC.to_bytes(4, "big") + count.to_bytes(4, "big")


def test_the_bomb_helper_makes_valid_gzip():
    assert gzip.decompress(gzip_bomb(3)) == bytes(3 << 20)
    assert gzip.decompress(gzip_bomb(2, b"abc")) == b"abc" + bytes(2 << 20)
    assert len(gzip_bomb(1024)) < 1.1 * 2**20  # 1 GiB of zeros in about 1 MiB


def test_a_gzip_bomb_is_refused_without_filling_memory(tmp_path):
    bomb = gzip_bomb(1024)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(bomb)
    peak, error = peak_mib(lambda: mnist.read_idx(path))
    assert isinstance(error, MnistError) and "not an MNIST IDX file (magic number 0" in str(error)
    assert peak < 4, f"{peak:.1f} MiB"  # the 1 MiB file and a few small pieces, never the 1 GiB
    peak, error = peak_mib(lambda: mnist.decompress(bomb, "bomb"))
    assert error is not None and peak < 3, f"{peak:.1f} MiB"


def test_a_bomb_behind_a_valid_header_stops_at_the_size_it_announces():
    labels = gzip_bomb(1024, label_header(60_000))  # then far more than 60,000 labels
    peak, error = peak_mib(lambda: mnist.decompress(labels, "labels.gz"))
    assert isinstance(error, MnistError), error
    assert "labels.gz holds more than the 60,008 bytes its header announces" in str(error)
    assert peak < 3, f"{peak:.1f} MiB"

    images = gzip_bomb(1024, image_header(60_000))  # the largest legitimate header: 47,040,016 bytes
    peak, error = peak_mib(lambda: mnist.decompress(images, "images.gz"))
    assert "holds more than the 47,040,016 bytes" in str(error)
    assert peak < 45 + 4, f"{peak:.1f} MiB"  # what the real file takes, not 1 GiB

    # A caller that knows the exact file (the downloader) bounds it tighter still.
    peak, error = peak_mib(lambda: mnist.decompress(labels, "t10k-labels.gz", limit=10_008))
    assert "says it holds 60,000 labels (60,008 bytes), more than MNIST's file of 10,008 bytes" in str(error)
    assert peak < 1, f"{peak:.1f} MiB"


def test_a_header_that_announces_more_than_mnist_is_refused_before_unpacking():
    huge = gzip.compress(image_header(10**9) + bytes(1000))
    peak, error = peak_mib(lambda: mnist.decompress(huge, "huge.gz"))
    assert "huge.gz says it holds 1,000,000,000 images (784,000,000,016 bytes)" in str(error)
    assert peak < 1, f"{peak:.1f} MiB"
    with pytest.raises(MnistError, match="says it holds 60,001 labels"):
        mnist.decompress(gzip.compress(label_header(60_001) + bytes(60_001)), "labels.gz")


def test_files_larger_than_any_mnist_file_are_not_read(tmp_path):
    folder = write_folder(tmp_path / "big")
    big = folder / "train-images-idx3-ubyte"
    with open(big, "r+b") as file:
        file.truncate(200 * 2**20)  # sparse: 200 MiB that take no disk space
    peak, error = peak_mib(lambda: mnist.read_idx(big))
    assert isinstance(error, MnistError), error
    assert f"train-images-idx3-ubyte is 209,715,200 bytes, larger than any MNIST file can be ({mnist.MAX_FILE_BYTES:,} bytes): it was not read" in str(error)
    assert peak < 1, f"{peak:.1f} MiB"
    with pytest.raises(MnistError, match="it was not read"):
        mnist.load_folder(folder)


@needs_real
def test_the_real_training_images_unpack_without_a_second_copy():
    raw = (REAL / "train-images-idx3-ubyte.gz").read_bytes()
    unpacked = 47_040_016
    peak, error = peak_mib(lambda: mnist.parse_idx(mnist.decompress(raw, "train"), "train"))
    assert error is None
    assert peak < unpacked / 2**20 + 4, f"{peak:.1f} MiB"  # one buffer of the file's size and small pieces


# ---- bounded downloads ------------------------------------------------------------------------------


def test_a_bomb_from_the_mirror_fails_its_check_without_filling_memory(server, tmp_path):
    name = "train-images-idx3-ubyte.gz"
    server.state.corrupt[name] = gzip_bomb(1024)
    peak, error = peak_mib(lambda: mnist.download(server.mirror, tmp_path, retries=1, timeout=10, backoff_s=0))
    assert isinstance(error, MnistError) and f"{name} from {server.mirror} failed its SHA-256 check" in str(error)
    assert peak < 8, f"{peak:.1f} MiB"
    assert files_in(tmp_path) == []


def test_a_file_announced_larger_than_mnist_is_not_downloaded(server, tmp_path):
    name = "t10k-labels-idx1-ubyte.gz"
    server.state.corrupt[name] = bytes(2_000_000)
    with pytest.raises(MnistError, match=rf"{re.escape(name)} at .* is 2,000,000 bytes, more than MNIST's file can be"):
        mnist.download(server.mirror, tmp_path, **FAST)
    assert len(server.state.count(name)) == 1  # not retried: it would only be refused again
    assert name not in files_in(tmp_path) and not list(tmp_path.glob("*.part"))


def test_a_stream_without_a_length_is_cut_off_at_the_limit(server, tmp_path):
    name = "train-labels-idx1-ubyte.gz"
    server.state.no_length = True
    server.state.corrupt[name] = bytes(4_000_000)
    calls: list[tuple[str, int, int]] = []
    with pytest.raises(MnistError, match=rf"{re.escape(name)} from .* grew past [\d,]+ bytes, more than MNIST's file can be"):
        mnist.download(server.mirror, tmp_path, progress=lambda *a: calls.append(a), **FAST)
    limit = mnist.file_limit(60_008)
    assert max(done for n, done, _ in calls if n == name) <= limit < 200_000  # stopped early, not at 4 MB
    assert files_in(tmp_path) == ["train-images-idx3-ubyte.gz"]  # which came fine without a length


# ---- one download at a time ----------------------------------------------------------------------------


def test_two_downloads_at_once_fetch_each_file_once(server, tmp_path):
    server.state.delay[NAMES[0]] = 1.0  # the first download is surely still running when the second starts
    start = threading.Barrier(2)
    results, waits = [], []

    def one() -> None:
        start.wait()
        results.append(mnist.download(server.mirror, tmp_path, waiting=lambda: waits.append(1), **FAST))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [tmp_path, tmp_path]
    assert [n for n, _ in server.state.requests] == NAMES  # each file once, not twice
    assert waits == [1]  # the second one was told it waits
    assert_cache_is_full_mnist(tmp_path)


def test_a_download_that_cannot_get_the_lock_gives_up_in_words(server, tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "LOCK_WAIT_S", 0.3)
    with mnist.cache_lock(tmp_path):  # as a download that hangs would hold it
        with pytest.raises(MnistError, match=r"Another download of MNIST has kept the cache busy for 0.3 s"):
            mnist.download(server.mirror, tmp_path, **FAST)
    assert server.state.requests == []
    mnist.download(server.mirror, tmp_path, **FAST)  # and once it is free, it goes ahead
    assert_cache_is_full_mnist(tmp_path)


CHILD = """
import sys
from pathlib import Path
from playground.data import mnist
mnist.download(sys.argv[1], Path(sys.argv[2]), retries=2, timeout=30, backoff_s=0.01)
print("verified")
"""


def test_two_processes_downloading_at_once_fetch_each_file_once(server, tmp_path):
    server.state.delay[NAMES[0]] = 2.0
    children = [subprocess.Popen([sys.executable, "-c", CHILD, server.mirror, str(tmp_path)], cwd=ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    assert all(out.strip() == "verified" for out, _ in outputs), outputs
    assert [n for n, _ in server.state.requests] == NAMES
    assert_cache_is_full_mnist(tmp_path)


# ---- workers see a new download --------------------------------------------------------------------------


@needs_real
def test_load_mnist_sees_files_that_appear_later_without_cache_clear(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("PLAYGROUND_CACHE_DIR", str(cache))
    fallback = mnist.load_mnist("full")  # as a worker does before anything is downloaded
    assert fallback.source.startswith("shipped subset") and len(fallback.train_images) == 10_000
    assert not mnist.full_ready()

    cache.mkdir()
    for name in NAMES:  # another process puts verified files in place
        shutil.copyfile(REAL / name, cache / name)
    full = mnist.load_mnist("full")
    assert full.source.startswith("full MNIST") and len(full.train_images) == 60_000
    assert mnist.full_ready()
    assert mnist.load_mnist("full") is full  # loaded once per version of the files
    began = time.perf_counter()
    for _ in range(100):
        mnist.load_mnist("full")
    assert (time.perf_counter() - began) / 100 < 0.005  # each call only takes the files' stamps

    # A damaged file is not used: back to the subset, and to the full set once it is whole again.
    (cache / NAMES[3]).write_bytes((mnist.SHIPPED_DIR / NAMES[3]).read_bytes())
    assert mnist.load_mnist("full").source.startswith("shipped subset") and not mnist.full_ready()
    shutil.copyfile(REAL / NAMES[3], cache / NAMES[3])
    assert len(mnist.load_mnist("full").train_images) == 60_000
