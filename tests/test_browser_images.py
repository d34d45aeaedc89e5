"""The Images page in headless Chromium: play trains, the charts fill in, a drawn digit is classified.

One `streamlit run app.py` on a free 127.0.0.1 port for the module. Skipped when Debian's Chromium
(or Playwright) is missing, except under CI (CI set), where that is a failure. Waits are polls with
generous deadlines: the machine is shared, so nothing here depends on how fast it is.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
START_S = 120  # the app answering /_stcore/health
LOAD_MS = 90_000  # the page's first run
TRAIN_MS = 240_000  # the first points of the training curve (seed CNN, one worker, busy CPUs)
PREDICT_MS = 90_000


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"playwright is not importable ({exc})"
    return None


_why = _missing()
if _why:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run under CI: {_why}", pytrace=False)
    pytest.skip(f"browser tests need Chromium and Playwright: {_why}", allow_module_level=True)

from playwright.sync_api import Page, sync_playwright


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    """`streamlit run app.py` in its own process group; its log is shown if it does not come up."""
    port = _free_port()
    streamlit = ROOT / ".venv" / "bin" / "streamlit"
    command = [str(streamlit) if streamlit.exists() else "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    with tempfile.NamedTemporaryFile(prefix="playground-images-app-", suffix=".log") as log:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            _wait_healthy(proc, f"http://127.0.0.1:{port}/", Path(log.name))
            yield f"http://127.0.0.1:{port}/"
        finally:
            _stop(proc)


def _wait_healthy(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"no health answer in {START_S} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the app's process group, then SIGKILL what is left of it (its worker processes too)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="playground-images-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000},
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def visible(page: Page, selector: str):
    """Streamlit keeps hidden stale copies of keyed elements while a fragment reruns: take the visible one."""
    return page.locator(f"{selector} >> visible=true").first


# Trace names and point counts of the visible Plotly chart inside a keyed container (decoded data).
TRACES_JS = """(key) => {
    for (const plot of document.querySelectorAll('.st-key-' + key + ' .js-plotly-plot')) {
        if (!(plot.checkVisibility ? plot.checkVisibility() : plot.offsetParent !== null)) continue;
        return (plot._fullData || []).map(t => ({name: t.name || '', type: t.type,
                                               points: (t.x || []).length, rows: (t.z || []).length}));
    }
    return null;
}"""


def traces(page: Page, key: str) -> list[dict] | None:
    return page.evaluate(TRACES_JS, key)


def wait_until(condition, timeout_ms: float, what: str):
    deadline = time.monotonic() + timeout_ms / 1000
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout_ms / 1000:.0f} s (last seen: {last!r})")


def assert_no_exception(page: Page) -> None:
    shown = page.locator("[data-testid=stException]")
    assert shown.count() == 0, shown.all_inner_texts()


def test_play_trains_and_a_drawn_digit_is_classified(app_url, browser):
    page = browser.new_page()
    page.set_default_timeout(LOAD_MS)
    try:
        page.goto(app_url + "images?epochs=1", wait_until="domcontentloaded")
        play = visible(page, ".st-key-play button")
        play.wait_for(state="visible")
        wait_until(lambda: not play.is_disabled() and traces(page, "accuracy-chart"), LOAD_MS, "the first snapshot")
        assert_no_exception(page)
        # The address bar holds the whole link of the seed CNN.
        query = parse_qs(urlsplit(page.url).query)
        assert query["layers"] == ["conv32k3-relu,maxpool2,flatten,dense128-relu,dense10"] and query["epochs"] == ["1"]
        assert "693,962 parameters" in visible(page, ".st-key-layer-summary").inner_text()  # the table is a canvas

        play.click()
        curve = wait_until(
            lambda: [t for t in traces(page, "accuracy-chart") or [] if t["name"].startswith("training") and t["points"]],
            TRAIN_MS, "training points on the accuracy chart",
        )
        assert curve[0]["type"] == "scatter"
        confusion = wait_until(lambda: traces(page, "confusion-matrix"), LOAD_MS, "the confusion matrix")
        assert confusion[0]["type"] == "heatmap" and confusion[0]["rows"] == 10
        assert_no_exception(page)

        # Draw a '1' on the pad: mouse down, move, up on the canvas that takes the strokes.
        pad = visible(page, ".st-key-draw-pad canvas.upper-canvas")
        pad.scroll_into_view_if_needed()
        box = pad.bounding_box()
        assert box and box["width"] >= 100 and box["height"] >= 100, box
        x, top = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.15
        page.mouse.move(x, top)
        page.mouse.down()
        for i in range(1, 21):
            page.mouse.move(x + i * 0.5, top + i * box["height"] * 0.035)
        page.mouse.up()

        prediction = visible(page, ".st-key-prediction")
        text = wait_until(lambda: re.search(r"I think it is a (\d)", prediction.inner_text() or ""), PREDICT_MS,
                          "a prediction for the drawing")
        assert 0 <= int(text.group(1)) <= 9
        assert re.search(r"I think it is a \d \(\d+%\)", prediction.inner_text())
        assert_no_exception(page)
    finally:
        page.close()
