"""Whole pages opened with generated links: whatever a link holds, the page draws without an exception.

A few hundred links per run, reproducible (Hypothesis with `derandomize`): a valid share link of each
page with some of its values replaced by junk (numbers with hundreds of digits, '1e999', NaN, unicode
digits, any text), names repeated and unknown names added. Each is opened through app.py under
AppTest, the Images page by `switch_page` as /images?... is. The page must show no exception and no
error that is not about the network itself, keep exactly the spec the link decodes to (so its widgets
took every value), write that spec's link back to the address bar and list the link's notes.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from playground.data.mnist import cached_full, load_mnist
from playground.images.presets import IMAGE_PRESETS, image_preset
from playground.images.spec import ImageSpec, summarize
from playground.sharelink import IMAGE_PARAMS, KNOWN_PARAMS, decode, decode_image, encode, encode_image
from tests.conftest import ROOT
from tests.test_limits import outside_limits
from tests.test_sharelink import link_value, run_specs

TIMEOUT = 60
LINKS_2D = 110
LINKS_IMAGES = 140


def page_links(names: tuple[str, ...], base: st.SearchStrategy) -> st.SearchStrategy:
    """(name, value) pairs: a valid link's, then edits (a repeated name's last value counts)."""
    edit_name = st.one_of(st.sampled_from(names), st.sampled_from(names), st.text(max_size=8))
    edits = st.lists(st.tuples(edit_name, link_value), max_size=6)
    return st.tuples(base.map(lambda params: list(params.items())), edits).map(lambda both: both[0] + both[1])


IMAGE_BASES = st.sampled_from([ImageSpec(), *(image_preset(name) for name in IMAGE_PRESETS)]).map(encode_image)
PAGES = {
    "2-D": dict(page=None, session="playground_session", decode=decode, encode=encode, count=LINKS_2D,
                links=page_links(KNOWN_PARAMS, run_specs().map(encode))),
    "Images": dict(page="pages/images.py", session="images_session", decode=decode_image, encode=encode_image,
                   count=LINKS_IMAGES, links=page_links(IMAGE_PARAMS, IMAGE_BASES)),
}


def open_link(page: dict, pairs: list[tuple[str, str]]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for name, value in pairs:  # a repeated name becomes a list: the URL then carries it twice
        if name in at.query_params:
            before = at.query_params[name]
            at.query_params[name] = [*before, value] if isinstance(before, list) else [before, value]
        else:
            at.query_params[name] = value
    if page["page"]:
        at.switch_page(page["page"])
    at.run()
    return at


def expected_spec(page: dict, pairs: list[tuple[str, str]]):
    """What the page must show: the spec of the link's last value of each name (st.query_params)."""
    spec, notes = page["decode"](dict(pairs))
    if isinstance(spec, ImageSpec) and spec.data == "full" and cached_full() is None:
        spec = replace(spec, data="subset")  # full MNIST is offered once it is downloaded
    return spec, notes


def check_page(page: dict, pairs: list[tuple[str, str]]) -> None:
    at = open_link(page, pairs)
    session = at.session_state[page["session"]] if page["session"] in at.session_state else None
    try:
        assert not at.exception, [e.value for e in at.exception]
        spec, notes = expected_spec(page, pairs)
        assert session is not None and session.spec == spec  # the widgets took every value of the link
        assert outside_limits(session.spec) == []
        assert {k: v[-1] if isinstance(v, list) else v for k, v in at.query_params.items()} == page["encode"](spec)
        shown = " ".join(m.value for m in at.get_by_key("link-notes").markdown)
        assert all(note in shown for note in notes), (notes, shown)
        errors = [e.value for e in at.error]
        if isinstance(spec, ImageSpec):  # only why this network cannot be built, or why this server will not train it
            allowed = {message for _, message in summarize(spec, len(load_mnist(spec.data).train_images)).problems}
            allowed |= {e.value for e in at.get_by_key("layer-summary").error}
            errors = [e for e in errors if e not in allowed]
        assert errors == [], errors
    finally:
        if session is not None and session.job_id:
            from playground.ui.session import job_manager

            job_manager().close(session.job_id)


@pytest.mark.parametrize("name", list(PAGES))
def test_generated_links_open_without_an_exception(name):
    page = PAGES[name]
    start, count = time.monotonic(), [0]

    @settings(max_examples=page["count"], derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(page["links"])
    def open_one(pairs):
        count[0] += 1
        check_page(page, pairs)

    open_one()
    print(f"{name}: {count[0]} links in {time.monotonic() - start:.1f} s")
