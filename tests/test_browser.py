"""The real app in headless Chromium: training runs and draws, pause stops it, links round-trip.

One server for the module (`streamlit run app.py` on a free port); each test opens its own page,
which is its own Streamlit session with its own training job. Waits are polls with deadlines.
Skipped when Debian's Chromium is missing, except under CI (CI set), where that is a failure.
"""

from __future__ import annotations

import os
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from playground.ui.transport import DEBOUNCE_S
from tests import live_app

pytestmark = pytest.mark.browser


live_app.require_browser()

from playwright.sync_api import Page, expect

TIMEOUT_MS = 15_000
TFP_LINK = (
    "https://playground.tensorflow.org/#activation=relu&batchSize=20&dataset=spiral&regDataset=reg-plane"
    "&learningRate=0.01&regularizationRate=0&noise=10&networkShape=6,3&seed=0.12345&showTestData=false"
    "&discretize=false&percTrainData=60&x=true&y=true&xTimesY=false&xSquared=true&ySquared=true&cosX=false"
    "&sinX=true&cosY=true&sinY=true&collectStats=false&problem=classification&initZero=false&hideText=false"
)


# ---- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app():
    server = live_app.LiveApp(workers=int(os.environ.get("PLAYGROUND_WORKERS", "1")))
    server.start(timeout_s=90)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser_context():
    with live_app.chromium() as context:
        context.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        yield context


@pytest.fixture
def open_page(app, browser_context):
    """Open the app (optionally with a query string) in a new page; every page is closed afterwards."""
    pages: list[Page] = []

    def opener(query: str = "") -> Page:
        page = live_app.open_app(browser_context, app.url + query, timeout_ms=30_000)
        pages.append(page)
        return page

    yield opener
    for page in pages:
        page.close()


# ---- helpers ------------------------------------------------------------------------------------


def assert_no_exception(page: Page) -> None:
    boxes = page.locator("[data-testid=stException]")
    if boxes.count():
        pytest.fail("exception box on the page:\n" + "\n---\n".join(boxes.all_inner_texts()))


def query_of(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def wait_for_query(page: Page, timeout_s: float = 20, **expected: str) -> dict[str, str]:
    """Poll the address bar until its query string holds all `expected` values."""
    deadline = time.monotonic() + timeout_s
    while True:
        params = query_of(page.url)
        if all(params.get(k) == v for k, v in expected.items()):
            return params
        if time.monotonic() > deadline:
            pytest.fail(f"the URL never held {expected}; it is {page.url}")
        page.wait_for_timeout(100)


def epoch(page: Page) -> int:
    """The epoch counter's number, read again while the fragment is mid-redraw."""
    deadline = time.monotonic() + 10
    while (value := live_app.read_epoch(page)) is None:
        if time.monotonic() > deadline:
            pytest.fail("no epoch counter on the page")
        page.wait_for_timeout(50)
    return value


def label(page: Page) -> str:
    """The play button's label now ('Play' or 'Pause')."""
    text = play_button(page).inner_text().strip()
    return text.split()[-1] if text else ""


def wait_for_epoch(page: Page, predicate, what: str, timeout_s: float = 15) -> int:
    deadline = time.monotonic() + timeout_s
    seen = []
    while True:
        value = epoch(page)
        seen.append(value)
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"epoch never {what} within {timeout_s} s; saw {seen[:5]} … {seen[-5:]}; "
                        f"the play button says {label(page)!r}, its labels since the last click: {label_history(page)}")
        page.wait_for_timeout(100)


def wait_until_still(page: Page, window_s: float = 1.0, timeout_s: float = 8) -> int:
    """Poll until two epoch readings `window_s` apart are equal; returns that epoch."""
    deadline = time.monotonic() + timeout_s
    before = epoch(page)
    while True:
        page.wait_for_timeout(window_s * 1000)
        after = epoch(page)
        if after == before:
            return after
        if time.monotonic() > deadline:
            pytest.fail(f"the epoch kept rising after pause ({before} -> {after}, {timeout_s} s after the click); "
                        f"the play button's labels since the click: {label_history(page)}")
        before = after


PLOT_SUMMARY_JS = """(key) => {""" + live_app.VISIBLE_JS + """
    const gd = window.__pgPlot(key);
    if (!gd || !gd._fullData) return null;
    const size = (v) => {
        if (v == null) return 0;
        if (typeof v.length === 'number') return v.length;
        if (v.bdata) return v.bdata.length;  // plotly.js binary arrays: {dtype, bdata, shape}
        return 0;
    };
    const signature = (v) => {  // a cheap hash of a data array or picture, to see it change between redraws
        if (v == null) return 0;
        const text = typeof v === 'string' ? v : v.bdata || Array.prototype.join.call(v, ',');
        let h = 0;
        for (let i = 0; i < text.length; i += 7) h = (h * 31 + text.charCodeAt(i)) | 0;
        return h;
    };
    const traces = gd._fullData.map(t => ({type: t.type, visible: t.visible, x: size(t.x), y: size(t.y), z: size(t.z),
                                           z_signature: signature(t.z)}));
    const pictures = (gd._fullLayout.images || []).map(im => ({type: 'image', visible: im.visible,
        x: 0, y: 0, z: im.source ? im.source.length : 0, z_signature: signature(im.source)}));
    return traces.concat(pictures);
}"""


def plot_summary(page: Page, key: str):
    return page.evaluate(PLOT_SUMMARY_JS, key)


def assert_plot_drawn(page: Page, key: str, min_traces: int) -> list[dict]:
    deadline = time.monotonic() + 15
    while True:
        traces = plot_summary(page, key) or []
        drawn = [t for t in traces if t["visible"] is not False and (t["x"] or t["y"] or t["z"])]
        if len(drawn) >= min_traces:
            return traces
        if time.monotonic() > deadline:
            pytest.fail(f"{key}: expected {min_traces} non-empty traces, got {traces}")
        page.wait_for_timeout(100)


def link_notes(page: Page):
    """The visible notes about an opened or imported link (none: nothing was dropped)."""
    return page.locator(".st-key-link-notes [data-testid=stExpander] >> visible=true")


def play_button(page: Page):
    return live_app.visible(page, ".st-key-play button")


# Records every label the visible play button shows, so a failure can say what the button did.
LABEL_LOG_JS = """() => {""" + live_app.VISIBLE_JS + """
    window.__labels = [];
    if (window.__labelObserver) return;
    let last = null;
    window.__labelObserver = new MutationObserver(() => {
        const button = window.__pgVisible('.st-key-play button');
        const raw = button ? button.textContent.trim() : '';
        const text = raw.endsWith('Pause') ? 'Pause' : raw.endsWith('Play') ? 'Play' : null;
        if (text && text !== last) { last = text; window.__labels.push(text); }
    });
    window.__labelObserver.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def press_play_button(page: Page, then: str) -> None:
    """Click play/pause and wait for the label `then`; on failure, say which labels it showed."""
    page.evaluate(LABEL_LOG_JS)
    play_button(page).click()
    try:
        expect(play_button(page)).to_contain_text(then)
    except AssertionError:
        pytest.fail(f"after the click the button should read {then!r}; its labels since the click: "
                    f"{label_history(page)} (a label flipping back means the click was handled twice)")


def label_history(page: Page) -> list[str]:
    return page.evaluate("() => window.__labels || []")


# ---- tests --------------------------------------------------------------------------------------


def test_play_trains_draws_and_pause_stops(open_page):
    page = open_page()
    expect(play_button(page)).to_contain_text("Play")
    start = epoch(page)

    press_play_button(page, then="Pause")
    # The counter rises, and keeps rising on later redraws (not one jump after the click).
    first = wait_for_epoch(page, lambda e: e > start, "rose after play")
    wait_for_epoch(page, lambda e: e > first, "rose a second time")
    assert_no_exception(page)

    boundary = assert_plot_drawn(page, "boundary-chart", 2)
    kinds = {t["type"] for t in boundary}
    assert "image" in kinds, boundary  # the network's output over the input square
    assert any(t["type"].startswith("scatter") and t["x"] > 0 for t in boundary), boundary
    assert_plot_drawn(page, "loss-chart", 2)
    # The boundary is redrawn while training: its picture changes.
    picture = next(t["z_signature"] for t in boundary if t["type"] == "image")
    deadline = time.monotonic() + 10
    while next((t["z_signature"] for t in plot_summary(page, "boundary-chart") or [] if t["type"] == "image"), picture) == picture:
        if time.monotonic() > deadline:
            pytest.fail("the boundary picture did not change within 10 s of training")
        page.wait_for_timeout(100)
    nodes = page.locator(".st-key-network-diagram .nn-node >> visible=true")
    expect(nodes.first).to_be_visible()
    # inputs x, y + hidden 4 and 2 + the output neuron
    assert nodes.count() >= 2 + 4 + 2 + 1, nodes.count()
    page.screenshot(path="/tmp/playground-browser-playing.png")

    press_play_button(page, then="Play")
    page.wait_for_timeout(500)  # settle: a snapshot already under way may still arrive
    stopped = wait_until_still(page)
    page.wait_for_timeout(1000)
    assert epoch(page) == stopped, "the epoch rose again after it had stopped"
    assert stopped > first
    assert_no_exception(page)


def test_step_and_reset(open_page):
    page = open_page()
    start = epoch(page)
    live_app.visible(page, ".st-key-step button").click()
    wait_for_epoch(page, lambda e: e == start + 1, f"became {start + 1} after one step")
    page.wait_for_timeout(DEBOUNCE_S * 1000 + 100)  # a second click sooner is a double-click, taken once
    live_app.visible(page, ".st-key-step button").click()
    wait_for_epoch(page, lambda e: e == start + 2, f"became {start + 2} after two steps")
    live_app.visible(page, ".st-key-reset button").click()
    wait_for_epoch(page, lambda e: e == 0, "went back to 0 after reset")
    expect(play_button(page)).to_contain_text("Play")
    assert_no_exception(page)


def test_share_link_carries_changed_settings(open_page, browser_context):
    page = open_page()
    wait_for_query(page, dataset="circle", networkShape="4,2", noise="0")

    # The data set, a layer's neurons and the noise slider, each through its own widget.
    live_app.visible(page, ".st-key-dataset input").click()
    page.get_by_role("option", name="Exclusive or (XOR)").click()
    wait_for_query(page, dataset="xor")

    units = live_app.visible(page, ".st-key-units_0 input")
    units.fill("5")
    units.press("Enter")
    wait_for_query(page, networkShape="5,2")

    slider = live_app.visible(page, ".st-key-noise").locator("input[type=range]")
    slider.focus()
    for _ in range(3):
        slider.press("ArrowRight")
    params = wait_for_query(page, dataset="xor", networkShape="5,2", noise="3")
    assert_no_exception(page)

    share = live_app.visible(page, ".st-key-share-link code")
    expect(share).to_contain_text("noise=3")
    link = share.inner_text().strip()
    assert link.startswith("http://127.0.0.1:"), link
    assert query_of(link) == params, (link, page.url)

    other = live_app.open_app(browser_context, link)
    try:
        # The new session decoded the link: same query back, widgets filled, nothing ignored.
        assert wait_for_query(other, dataset="xor", networkShape="5,2", noise="3") == params
        expect(live_app.visible(other, ".st-key-units_0 input")).to_have_value("5")
        expect(live_app.visible(other, ".st-key-dataset input")).to_have_value("Exclusive or (XOR)")
        expect(live_app.visible(other, ".st-key-noise").locator("input[type=range]")).to_have_value("3")
        expect(link_notes(other)).to_have_count(0)
        # ...and trains what the link says: 2 inputs + 5 + 2 + 1 neurons.
        expect(other.locator(".st-key-network-diagram .nn-node >> visible=true")).to_have_count(10)
        other.screenshot(path="/tmp/playground-browser-shared.png")
        assert_no_exception(other)
    finally:
        other.close()


def test_invalid_link_lists_notes(open_page):
    page = open_page("?learningRate=banana&networkShape=4,999&foo=1")
    notes = link_notes(page)
    expect(notes).to_contain_text("not used (3)")
    expect(notes).to_contain_text("foo")
    expect(notes).to_contain_text("banana")
    expect(notes).to_contain_text("999")
    # The address bar is rewritten to what is actually used.
    params = wait_for_query(page, learningRate="0.03", networkShape="4,64")
    assert "foo" not in params
    # The page still works: a step trains the clamped network.
    start = epoch(page)
    live_app.visible(page, ".st-key-step button").click()
    wait_for_epoch(page, lambda e: e == start + 1, "rose by one step")
    assert_no_exception(page)


def test_import_tf_playground_link(open_page):
    page = open_page()
    expect(link_notes(page)).to_have_count(0)
    box = live_app.visible(page, ".st-key-tfp-import input")
    box.fill(TFP_LINK)
    box.press("Enter")
    params = wait_for_query(
        page, dataset="spiral", networkShape="6,3", activation="relu", learningRate="0.01", batchSize="20",
        noise="10", percTrainData="60", xSquared="true", sinY="true", xTimesY="false",
    )
    assert params["seed"] != "0" and params["seed"].isdigit(), params
    notes = link_notes(page)
    expect(notes).to_contain_text("seed")
    expect(notes).to_contain_text("cosY")  # on in the link, not offered here
    # Widgets were refilled from the imported link, and the box emptied.
    expect(live_app.visible(page, ".st-key-dataset input")).to_have_value("Spiral")
    expect(live_app.visible(page, ".st-key-units_0 input")).to_have_value("6")
    expect(live_app.visible(page, ".st-key-units_1 input")).to_have_value("3")
    expect(box).to_have_value("")
    expect(page.locator(".st-key-network-diagram .nn-node >> visible=true")).to_have_count(6 + 6 + 3 + 1)
    page.screenshot(path="/tmp/playground-browser-imported.png")
    assert_no_exception(page)


def test_redraws_follow_the_job(app, browser_context):
    """A paused page redraws about once a second, a training one several times a second: the
    live view's timer is moved (an `auto_rerun` message) when play or pause changes what it needs."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    from playground.ui.refresh import IDLE_INTERVAL_S

    received: list[ForwardMsg] = []

    def record(payload) -> None:
        if isinstance(payload, bytes):
            msg = ForwardMsg()
            msg.ParseFromString(payload)
            received.append(msg)

    page = browser_context.new_page()
    page.on("websocket", lambda ws: ws.on("framereceived", record))
    try:
        page.goto(app.url, wait_until="domcontentloaded")
        live_app.wait_for_app(page)

        def runs_per_s(seconds: float = 3.0) -> float:
            start = len(received)
            page.wait_for_timeout(seconds * 1000)  # Playwright delivers the frames while it waits
            return sum(m.WhichOneof("type") == "script_finished" for m in received[start:]) / seconds

        def timers_since(start: int) -> list[float]:
            return [m.auto_rerun.interval for m in received[start:] if m.WhichOneof("type") == "auto_rerun"]

        page.wait_for_timeout(1000)
        paused = runs_per_s()
        assert paused <= 1.5 / IDLE_INTERVAL_S, f"a paused page redrew {paused:.1f} times a second"

        before_play = len(received)
        press_play_button(page, then="Pause")
        page.wait_for_timeout(500)
        assert any(t < IDLE_INTERVAL_S for t in timers_since(before_play)), timers_since(before_play)
        playing = runs_per_s()  # how much faster depends on how many other sessions train
        assert playing > paused, f"training redraws {playing:.1f}/s, paused {paused:.1f}/s"

        before_pause = len(received)
        press_play_button(page, then="Play")
        page.wait_for_timeout(500)
        assert timers_since(before_pause)[-1:] == [IDLE_INTERVAL_S], timers_since(before_pause)
        assert_no_exception(page)
    finally:
        page.close()


def test_a_tab_whose_timers_stall_keeps_its_network(browser_context):
    """Browsers fire a background tab's timers about once a minute, so its page stops reading its
    job; while the tab is connected the job stays. Here the page's scripts are paused for three
    times the job TTL, then resumed: the stepped network is still there."""
    server = live_app.LiveApp(workers=1, env={"PLAYGROUND_JOB_TTL_S": "3"})
    server.start(timeout_s=90)
    page = None
    try:
        page = live_app.open_app(browser_context, server.url)
        live_app.visible(page, ".st-key-step button").click()
        wait_for_epoch(page, lambda e: e == 1, "became 1 after one step")
        debugger = browser_context.new_cdp_session(page)
        debugger.send("Debugger.enable")
        debugger.send("Debugger.pause")
        time.sleep(3 * 3 + 3)  # three TTLs and a reaper round: an unread job would be closed by now
        debugger.send("Debugger.resume")
        page.wait_for_timeout(2500)  # a few redraws
        assert epoch(page) == 1, "the network was lost while the page's scripts were paused"
        infos = " ".join(page.locator("[data-testid=stAlertContentInfo]").all_inner_texts())
        assert "inactive" not in infos, infos
        assert_no_exception(page)
    finally:
        if page is not None:
            page.close()
        server.stop()
