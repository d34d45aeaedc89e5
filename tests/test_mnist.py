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
import threading
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

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
        if failing:
            self.send_error(503, "try again")
            return
        data = state.corrupt.get(name, state.files[name])
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
        self.wfile.write(body)


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


def assert_cache_is_full_mnist(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(NAMES)
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
    left = sorted(p.name for p in tmp_path.iterdir())
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


@pytest.fixture
def fast_gzip(monkeypatch):
    """import_folder re-compresses 55 MB at gzip's default level 9 (~15 s on this machine's CPUs);
    level 1 writes the same bytes, just larger, and keeps these tests quick."""
    monkeypatch.setattr(mnist, "gzip", SimpleNamespace(GzipFile=partial(gzip.GzipFile, compresslevel=1),
                                                       decompress=gzip.decompress))


@needs_real
def test_import_folder_accepts_the_real_files_gzipped(tmp_path, fast_gzip):
    dest = mnist.import_folder(REAL, tmp_path / "cache")
    assert_cache_is_full_mnist(dest)
    for file_name, sha256, _, _ in FILES.values():
        assert mnist._verified(dest / file_name, sha256)


@needs_real
def test_import_folder_accepts_the_real_files_uncompressed(tmp_path, fast_gzip):
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
