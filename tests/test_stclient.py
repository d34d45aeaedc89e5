"""bench/stclient.py, the headless tab the load benchmarks use, against the real app.

Benchmarks trust what this client reports (epochs, redraws, pause latency, closed tabs), so it is
checked here against what the app really does: one live server, tabs that play, pause, open
links and pages, and a closed tab whose job the server frees. Every wait is for a condition,
with a generous timeout; nothing is timed.
"""

from __future__ import annotations

import pytest

from bench.stclient import Node, PageTree, Tab, split_url
from tests.live_app import LiveApp

TTL_S = "2"  # the app frees a closed tab's job after this many seconds unread (the default is 20)


@pytest.fixture(scope="module")
def app():
    with LiveApp(workers=1, env={"PLAYGROUND_JOB_TTL_S": TTL_S}) as live:
        yield live


def _ready(tab: Tab, timeout_s: float = 60.0) -> None:
    """The page has drawn its transport bar, as a person waits for it."""
    tab.wait_for(lambda t: t.epoch() is not None and t.play_label() in ("Play", "Pause"), timeout_s,
                 "the epoch counter and the Play button")


def test_play_and_pause(app):
    with Tab(app.url, "/") as tab:
        _ready(tab)
        assert tab.epoch() == 0
        assert tab.play_label() == "Play"
        assert any("Neural Network Playground" in text for text in tab.texts())
        assert tab.exceptions() == []

        tab.click("Play")
        tab.wait_for(lambda t: t.play_label() == "Pause", 30, "the label Pause")
        tab.wait_for(lambda t: (t.epoch() or 0) >= 3, 60, "the epoch to grow")

        clicked = tab.click("Pause")
        tab.wait_for(lambda t: t.pause_latency(clicked) is not None, 30, "Play again and the epoch still")
        stopped, runs = tab.epoch(), tab.stats["runs"]
        tab.wait_for(lambda t: t.stats["runs"] >= runs + 2, 30, "two more redraws of the paused page")
        assert tab.epoch() == stopped
        assert tab.pause_latency(clicked) is not None
        assert tab.redraws() >= 3
        assert tab.exceptions() == []
        assert [e for e in tab.log if e.kind in ("error", "cache_miss")] == []


def test_link_and_learning_rate(app):
    with Tab(app.url, "/?learningRate=0.3&dataset=xor") as tab:
        _ready(tab)
        assert tab.widget("learning_rate").value == "0.3"
        assert tab.widget("dataset").value == "Exclusive or (XOR)"  # the label, as the browser sends it
        assert tab.page_not_found() == []

        tab.set_slider("learning_rate", 0.03)
        tab.wait_for(lambda t: "learningRate=0.03" in t.query_string, 30, "the link to follow the new rate")
        assert tab.widget("learning_rate").value == "0.03"
        assert "dataset=xor" in tab.query_string
        # The full rerun carried every widget state the tab holds: had one differed from what the
        # page showed, the network would have been rebuilt and the page would say so in a toast.
        assert not any("was reset" in text for text in tab.texts())

        tab.set_number("units_0", 6)
        tab.wait_for(lambda t: "networkShape=6" in t.query_string, 30, "the link to follow the first layer")
        assert any("was reset" in text for text in tab.texts())
        tab.select("dataset", "Spiral")
        tab.wait_for(lambda t: "dataset=spiral" in t.query_string, 30, "the link to follow the data set")
        assert tab.exceptions() == []


def test_images_page(app):
    with Tab(app.url, "/images") as tab:
        _ready(tab, 90)
        assert tab.epoch() == 0
        assert any("Images" in text for text in tab.texts())
        assert tab.page_not_found() == []
        assert tab.exceptions() == []


def test_images_tab_stays_on_its_page_after_a_full_rerun(app):
    """On a server that has already run its navigation, a tab opened at /images is told the main
    script's hash first and the page's in `navigation`. A widget change reruns the whole script:
    the tab must ask for the Images page again, not for the main script (the default page)."""
    with Tab(app.url, "/") as warm:
        _ready(warm)
    with Tab(app.url, "/images") as tab:
        _ready(tab, 90)
        rate = tab.widget("img_learning_rate")
        options = list(rate.options)
        changed = tab.set_value("img_learning_rate", options[(options.index(rate.value) + 1) % len(options)])
        tab.wait_for(lambda t: any(not e.data["fragment_ids"] for e in t.events("script_finished", since=changed)),
                     30, "the full rerun the change asked for")
        keys = {w.key for w in tab.widgets()}
        assert "img_learning_rate" in keys and "dataset" not in keys
        assert tab.page_name == "images"


def test_a_closed_tab_frees_its_job():
    """A server that holds four 2-D networks (4 MB each, 16 MB in all) turns a fifth page away
    with a message. Closing one of the four must let the fifth train: the server saw the tab go
    and freed its job. The fifth page retries on its own redraws, as it does for a person."""
    env = {"PLAYGROUND_JOB_TTL_S": TTL_S, "PLAYGROUND_MAX_TOTAL_MB": "16"}
    with LiveApp(workers=1, env=env) as small:
        tabs = []
        try:
            for i in range(4):
                tabs.append(Tab(small.url, "/", name=f"tab {i}"))
                _ready(tabs[-1])
            late = Tab(small.url, "/", name="the fifth tab")
            tabs.append(late)
            late.wait_for(lambda t: _full(t), 60, "the message that the server is full")

            tabs[0].close()
            assert tabs[0].closed
            late.wait_for(lambda t: not _full(t), 60, "a job for the fifth tab once the first is closed")
            late.click("Play")
            late.wait_for(lambda t: (t.epoch() or 0) > 0, 60, "the fifth tab to train")
            assert all(tab.exceptions() == [] for tab in tabs)
        finally:
            for tab in tabs:
                tab.close()


def _full(tab: Tab) -> bool:
    return any("server is full" in text for text in tab.texts())


def test_fragment_run_clears_only_its_stale_elements():
    """The frontend's rule, without a server: a fragment run that does not re-send an element of
    its own block removes it; elements outside the fragment stay."""
    tree = PageTree()
    tree.set([0, 0], Node(element="title", run_id="full", hash="t"), "full")
    tree.set([0, 1], Node(block="fragment block", run_id="full", fragment_id="f"), "full")
    tree.set([0, 1, 0], Node(element="epoch", run_id="full", fragment_id="f", hash="e0"), "full")
    tree.set([0, 1, 1], Node(element="note", run_id="full", fragment_id="f", hash="n"), "full")

    tree.set([0, 1], Node(block="fragment block", children=tree.get([0, 1]).children, run_id="run2",
                          fragment_id="f"), "run2")
    tree.set([0, 1, 0], Node(element="epoch", run_id="run2", fragment_id="f", hash="e1"), "run2")
    assert tree.clear_stale("run2", ["f"]) == 1

    assert [node.element for node in tree.elements()] == ["title", "epoch"]


def test_split_url():
    assert split_url("http://127.0.0.1:8501/images?a=1&b=2") == ("http://127.0.0.1:8501/", "/images?a=1&b=2")
    assert split_url("http://host:1") == ("http://host:1/", "/")
