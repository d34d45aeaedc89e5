"""One epoch of the seed CNN on full MNIST: the playground's job (live snapshots on) vs a plain loop.

The trainer side runs exactly as on the page: a job in the worker pool, training with its live
snapshots published to the server, timed from Play until the job reports epoch 1 (which includes
its end-of-epoch test evaluation; the plain loop's time includes the same evaluation). The plain side
is pytorch/examples' loop on the same model initialisation, data order and seed, in this process.
Also measures the resident memory of a real server and its workers with one and with ten
sessions that opened the Images page (the dataset must not be copied per session).

    python bench/mnist.py [--skip-memory]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
sys.path.insert(0, str(ROOT))


def plain_epoch(spec) -> tuple[float, float]:
    """pytorch/examples mnist idiom; returns (seconds for one epoch and its test evaluation, accuracy).

    The trainer evaluates the test set at the end of every epoch (the page shows it), so the
    plain loop's time includes its test evaluation too, with the same evaluation batch size.
    """
    import torch
    import torch.nn.functional as F

    from playground.images.model import build_image_model
    from playground.images.trainer import EVAL_BATCH, _tensors

    _, (x_train, y_train, x_test, y_test) = _tensors("full", "cpu")
    generator = torch.Generator().manual_seed(spec.seed)
    model = build_image_model(spec, generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.train.learning_rate)
    start = time.perf_counter()
    model.train()
    order = torch.randperm(len(x_train), generator=generator)
    for i in range(0, len(order), spec.train.batch_size):
        index = order[i : i + spec.train.batch_size]
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x_train[index]), y_train[index])
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        correct = sum(
            int((model(x_test[i : i + EVAL_BATCH]).argmax(1) == y_test[i : i + EVAL_BATCH]).sum())
            for i in range(0, len(x_test), EVAL_BATCH)
        )
    return time.perf_counter() - start, correct / len(x_test)


def trainer_epoch(spec) -> tuple[float, float]:
    """The same epoch through a real job: Play, then wait for the snapshot that reports epoch 1."""
    from playground.jobs import JobManager, Play

    manager = JobManager(workers=1)
    try:
        job = manager.open(spec, 1)
        while manager.latest(job) is None:
            time.sleep(0.01)
        start = time.perf_counter()
        manager.send(Play(job))
        while True:
            snap = manager.latest(job)
            if snap.epoch >= 1:
                break
            time.sleep(0.005)
        return time.perf_counter() - start, float(snap.test_curve[-1, 3])
    finally:
        manager.shutdown()


def process_tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
        stack += children.get(current, [])
    return total / 1024


def memory(sessions: tuple[int, ...] = (1, 10)) -> dict[int, float]:
    """RSS of server + workers after N browser sessions opened the Images page."""
    from tests.live_app import chromium, running_app

    results = {}
    for count in sessions:
        with running_app() as app, chromium() as context:
            pages = []
            for _ in range(count):
                page = context.new_page()
                page.goto(app.url + "images")
                page.locator(".st-key-layer-summary").wait_for(timeout=60_000)
                page.locator(".st-key-epoch").wait_for(timeout=60_000)
                pages.append(page)
            time.sleep(5)  # let every job build and publish
            results[count] = process_tree_rss_mib(app.proc.pid)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="mnist-bench-"))
    os.environ["PLAYGROUND_CACHE_DIR"] = str(cache)  # the workers inherit it
    from playground.data.mnist import import_folder
    from playground.images.spec import ImageSpec, ImageTrainSpec

    import_folder(SHARED_MNIST, cache)
    spec = ImageSpec(train=ImageTrainSpec(epochs=1), data="full")
    plain_s, plain_acc = plain_epoch(spec)
    ours_s, ours_acc = trainer_epoch(spec)
    print(f"{'run':10} {'seconds/epoch':>14} {'test acc %':>11}")
    print(f"{'plain':10} {plain_s:14.1f} {plain_acc * 100:11.2f}")
    print(f"{'trainer':10} {ours_s:14.1f} {ours_acc * 100:11.2f}")
    print(f"ratio mnist-epoch-time {ours_s / plain_s:.3f}")
    print(f"figure mnist-acc-gap {abs(ours_acc - plain_acc) * 100:.2f} points")
    if not args.skip_memory:
        rss = memory()
        print(f"{'sessions':10} {'RSS MiB':>10}")
        for count, value in rss.items():
            print(f"{count:10d} {value:10.0f}")
        print(f"figure rss-1-session {rss[1]:.0f} MiB")
        print(f"figure rss-10-sessions {rss[10]:.0f} MiB")


if __name__ == "__main__":
    main()
