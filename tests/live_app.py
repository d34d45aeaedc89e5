"""Helpers for driving the real app: start `streamlit run app.py` on a free port, open Chromium.

Shared by tests/test_browser.py and bench/browser.py. Nothing here touches the internet: the app
listens on 127.0.0.1 and Chromium is Debian's (/usr/bin/chromium), never a Playwright download.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


class LiveApp:
    """One `streamlit run app.py` in its own process group, with its output in a log file."""

    def __init__(self, port: int | None = None, workers: int | None = None, root: Path = ROOT,
                 env: dict[str, str] | None = None):
        self.root = Path(root)
        self.env = env or {}
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.workers = workers
        self.proc: subprocess.Popen | None = None
        self._log_file = tempfile.NamedTemporaryFile(prefix="playground-app-", suffix=".log", delete=False)  # noqa: SIM115 (open while the app runs)
        self.log_path = Path(self._log_file.name)

    def start(self, timeout_s: float = 60.0) -> Self:
        env = dict(os.environ, **self.env)
        if self.workers is not None:
            env["PLAYGROUND_WORKERS"] = str(self.workers)
        env.setdefault("PYTHONUNBUFFERED", "1")
        cmd = [
            _python(), "-m", "streamlit", "run", "app.py",
            "--server.port", str(self.port),
            "--server.address", "127.0.0.1",
            "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
        ]
        self.proc = subprocess.Popen(
            cmd, cwd=self.root, env=env, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            self.wait_healthy(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, timeout_s: float) -> None:
        """Poll /_stcore/health until it answers 'ok' (or the process dies, or time runs out)."""
        deadline = time.monotonic() + timeout_s
        health = f"{self.url}_stcore/health"
        last: object = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the app exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(health, timeout=2) as resp:
                    body = resp.read().decode(errors="replace").strip()
                    if resp.status == 200 and body == "ok":
                        return
                    last = f"{resp.status} {body!r}"
            except (urllib.error.URLError, OSError) as exc:
                last = exc
            time.sleep(0.2)
        raise TimeoutError(f"{health} did not answer ok within {timeout_s:.0f} s (last: {last}):\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the app's process group (server and its worker processes), then SIGKILL."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        # The group may still hold worker processes even after the server itself exited.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        self._log_file.close()

    def __enter__(self) -> Self:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def running_app(workers: int | None = None, timeout_s: float = 60.0) -> Iterator[LiveApp]:
    app = LiveApp(workers=workers)
    app.start(timeout_s)
    try:
        yield app
    finally:
        app.stop()


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


def require_browser() -> None:
    """Skip the calling test module without Chromium or Playwright; under CI that is a failure."""
    import pytest

    why = None
    if not chromium_available():
        why = f"{CHROMIUM} is missing"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError as exc:
            why = f"playwright is not importable ({exc})"
    if why:
        if "CI" in os.environ:
            pytest.fail(f"browser tests cannot run under CI: {why}", pytrace=False)
        pytest.skip(f"browser tests need Chromium and Playwright: {why}", allow_module_level=True)


@contextlib.contextmanager
def chromium(viewport: tuple[int, int] = (1400, 1000)):
    """Headless Debian Chromium in a fresh profile; yields a persistent BrowserContext.

    More isolated contexts (separate cookies and storage, as a different person) come from
    `context.browser.new_context()`. The profile folder is removed afterwards.
    """
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="playground-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": viewport[0], "height": viewport[1]},
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


# ---- reading the page ---------------------------------------------------------------------------

EPOCH_RE = re.compile(r"Epoch\D*(\d+)")


def parse_epoch(text: str) -> int | None:
    match = EPOCH_RE.search(text or "")
    return int(match.group(1)) if match else None


# Streamlit keeps hidden, stale copies of keyed elements for a moment while a fragment reruns
# (display: none, data-stale="true"), so every lookup takes the visible element only.
VISIBLE_JS = """
window.__pgVisible = window.__pgVisible || function (selector, root) {
    for (const el of (root || document).querySelectorAll(selector)) {
        if (el.checkVisibility ? el.checkVisibility() : el.offsetParent !== null) return el;
    }
    return null;
};
// The Plotly chart inside a keyed container: drawn in place, or inside the live-chart component's
// iframe (same origin, so its document is readable).
window.__pgPlot = window.__pgPlot || function (key) {
    const container = window.__pgVisible('.st-key-' + key);
    if (!container) return null;
    const direct = window.__pgVisible('.js-plotly-plot', container);
    if (direct) return direct;
    for (const frame of container.querySelectorAll('iframe')) {
        const gd = frame.contentDocument && frame.contentDocument.querySelector('.js-plotly-plot');
        if (gd) return gd;
    }
    return null;
};"""

# One round trip that reads the epoch counter (None while it is being redrawn).
READ_EPOCH_JS = """() => {""" + VISIBLE_JS + """
    const el = window.__pgVisible('.st-key-epoch');
    if (!el) return null;
    const m = /Epoch\\D*(\\d+)/.exec(el.innerText || '');
    return m ? parseInt(m[1], 10) : null;
}"""


def visible(page, selector: str):
    """A locator for the visible match of a CSS selector (Playwright's :visible)."""
    return page.locator(f"{selector} >> visible=true").first


def read_epoch(page) -> int | None:
    return page.evaluate(READ_EPOCH_JS)


def wait_for_app(page, timeout_ms: float = 30_000) -> None:
    """Wait until the page's script has run: the play button and the epoch counter are there."""
    visible(page, ".st-key-play button").wait_for(state="visible", timeout=timeout_ms)
    visible(page, ".st-key-epoch").wait_for(state="visible", timeout=timeout_ms)


def open_app(context, url: str, timeout_ms: float = 30_000):
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    wait_for_app(page, timeout_ms)
    return page
