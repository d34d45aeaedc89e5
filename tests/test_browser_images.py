"""The Images page in headless Chromium: play trains, the charts fill in, a drawn digit is classified.

One `streamlit run app.py` on a free 127.0.0.1 port for the module. Skipped when Debian's Chromium
(or Playwright) is missing, except under CI (CI set), where that is a failure. Waits are polls with
generous deadlines: the machine is shared, so nothing here depends on how fast it is.
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tests import live_app
from tests.live_app import visible

pytestmark = pytest.mark.browser
live_app.require_browser()

from playwright.sync_api import Page  # noqa: E402

LOAD_MS = 90_000  # the page's first run
TRAIN_MS = 240_000  # the first points of the training curve (seed CNN, one worker, busy CPUs)
PREDICT_MS = 90_000


@pytest.fixture(scope="module")
def app_url():
    with live_app.running_app(timeout_s=120) as app:
        yield app.url


@pytest.fixture(scope="module")
def browser():
    with live_app.chromium() as context:
        yield context


# Trace names and point counts of the visible Plotly chart inside a keyed container (decoded data).
TRACES_JS = """(key) => {""" + live_app.VISIBLE_JS + """
    const plot = window.__pgPlot(key);
    if (!plot) return null;
    return (plot._fullData || []).map(t => ({name: t.name || '', type: t.type,
                                           points: (t.x || []).length, rows: (t.z || []).length}));
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
