"""The Images page under Streamlit's AppTest: layer builder, problems, presets, link, training.

AppTest never fires `run_every`, so tests rerun the script until the background job has moved.
Jobs run in the real worker pool (one spawned worker for the whole test process).
"""

from __future__ import annotations

import re

import numpy as np

from streamlit.testing.v1 import AppTest

from playground.images.spec import ImageSpec
from playground.sharelink import encode_image
from tests.conftest import ROOT
from tests.test_app import toggle, live_figures, plotly_array, rerun_until

TIMEOUT = 60
TRAIN_DEADLINE = 240  # one epoch of a small CNN on a busy 2-core machine, with room to spare


def open_images(params: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.switch_page("pages/images.py")  # as opening /images?... does: the Images page reads the link
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def session(at: AppTest):
    return at.session_state["images_session"]


def latest(at: AppTest):
    from playground.ui.session import job_manager

    job_id = session(at).job_id
    return job_manager().latest(job_id) if job_id else None


def param(at: AppTest, name: str) -> str:
    value = at.query_params[name]
    return value[-1] if isinstance(value, list) else value


def layer_buttons(at: AppTest, operation: str) -> list:
    """The rows' up/down/remove buttons, in row order (their keys carry a generation number)."""
    buttons = [b for b in at.button if b.key and b.key.startswith("img_L") and b.key.endswith("_" + operation)]
    return sorted(buttons, key=lambda b: int(b.key.split("_")[2]))


def has_key(at: AppTest, key: str) -> bool:
    try:
        at.get_by_key(key)
    except KeyError:
        return False
    return True


def summary_rows(at: AppTest) -> list[dict]:
    frames = at.get_by_key("layer-summary").dataframe
    assert len(frames) == 1
    return frames[0].value.to_dict("records")


# ---- opening the page -------------------------------------------------------------------------------


def test_the_page_opens_with_the_seed_cnn_and_its_summary():
    at = open_images()
    assert session(at).spec == ImageSpec()
    rows = summary_rows(at)
    assert len(rows) == 5
    assert [r["Output shape"] for r in rows] == ["32 × 26 × 26", "32 × 13 × 13", "5408", "128", "10"]
    assert [r["Parameters"] for r in rows] == ["320", "0", "0", "692,352", "1,290"]
    assert any("693,962 parameters" in c.value for c in at.get_by_key("layer-summary").caption)
    assert not at.error
    assert not toggle(at).disabled
    assert {k: param(at, k) for k in at.query_params} == encode_image(ImageSpec())
    removes = [b.key for b in layer_buttons(at, "remove")]
    assert len(removes) == 5 and all(re.fullmatch(rf"img_L\d+_{i}_remove", k) for i, k in enumerate(removes)), removes
    assert layer_buttons(at, "up")[0].disabled and layer_buttons(at, "down")[-1].disabled
    rerun_until(at, lambda a: latest(a) is not None)
    assert latest(at).epoch == 0


def test_a_broken_architecture_is_explained_and_kept():
    at = open_images({"layers": "flatten,conv32k3-relu,dense10"})
    errors = [e.value for e in at.error]
    assert any("Conv2D needs an image" in e and "Move it before the Flatten layer" in e for e in errors), errors
    assert not at.exception
    assert toggle(at).disabled and at.button(key="step").disabled
    assert any("Fix the architecture" in w.value for w in at.warning)
    assert param(at, "layers") == "flatten,conv32k3-relu,dense10"
    assert [r["Output shape"] for r in summary_rows(at)] == ["784", "—"]
    at.run()  # and it stays that way
    assert param(at, "layers") == "flatten,conv32k3-relu,dense10"
    assert session(at).job_id is None  # nothing to train

    # Moving the conv above the flatten fixes it: the error goes and the network can be trained.
    layer_buttons(at, "up")[1].click().run()
    assert not at.exception
    assert param(at, "layers") == "conv32k3-relu,flatten,dense10"
    assert not at.error and not toggle(at).disabled
    rerun_until(at, lambda a: latest(a) is not None)
    assert len(summary_rows(at)) == 3


def test_adding_moving_and_removing_layers_updates_the_link():
    at = open_images()
    at.selectbox(key="img_new_kind").set_value("dropout")
    at.button(key="img_add").click().run()
    assert not at.exception
    expected = "conv32k3-relu,maxpool2,flatten,dense128-relu,dropout0.25,dense10"
    assert param(at, "layers") == expected  # before the output layer
    assert len(summary_rows(at)) == 6 and not at.error

    layer_buttons(at, "down")[0].click().run()  # conv below the pool
    assert param(at, "layers") == "maxpool2,conv32k3-relu,flatten,dense128-relu,dropout0.25,dense10"
    assert [r["Output shape"] for r in summary_rows(at)][:2] == ["1 × 14 × 14", "32 × 12 × 12"]

    layer_buttons(at, "up")[1].click().run()  # and back
    assert param(at, "layers") == expected

    layer_buttons(at, "remove")[2].click().run()  # remove the flatten: the dense layers break
    assert param(at, "layers") == "conv32k3-relu,maxpool2,dense128-relu,dropout0.25,dense10"
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "Add a Flatten layer" in errors[0], errors
    assert toggle(at).disabled

    at.selectbox(key="img_new_kind").set_value("flatten")
    at.button(key="img_add").click().run()
    assert param(at, "layers") == "conv32k3-relu,maxpool2,dense128-relu,dropout0.25,flatten,dense10"
    assert any("Dense needs a flat input" in e.value for e in at.error)  # still the dense-before-flatten row

    # Editing a row's number goes to the link too.
    units = [n for n in at.number_input if n.key.startswith("img_L") and n.key.endswith("_0_units")]
    units[0].set_value(8).run()
    assert param(at, "layers").startswith("conv8k3-relu,")


def test_choosing_a_preset_loads_it():
    at = open_images()
    at.selectbox(key="preset").set_value("lenet5").run()
    assert not at.exception
    assert param(at, "layers").startswith("conv6k5p2-tanh,avgpool2,conv16k5-tanh")
    assert len(summary_rows(at)) == 8
    assert any("61,706 parameters" in c.value for c in at.get_by_key("layer-summary").caption)
    assert at.selectbox(key="preset").value == ""  # ready for the next choice
    at.selectbox(key="preset").set_value("logistic").run()
    assert param(at, "layers") == "flatten,dense10"
    assert len(summary_rows(at)) == 2


def test_play_trains_and_draws_the_confusion_matrix():
    at = open_images({"layers": "conv4k3-relu,maxpool2,flatten,dense10", "epochs": "1"})
    rerun_until(at, lambda a: latest(a) is not None)
    at.run()  # draw what arrived
    assert has_key(at, "accuracy-chart")
    assert latest(at).epoch == 0 and not latest(at).finished
    toggle(at).click().run()
    assert session(at).playing
    # the epoch ends, then its test-set evaluation runs in slices; the run is finished after it
    rerun_until(at, lambda a: latest(a) is not None and latest(a).finished, TRAIN_DEADLINE)
    at.run()
    assert not at.exception
    snap = latest(at)
    assert snap.epoch == 1 and snap.confusion.sum() == 2000
    assert has_key(at, "confusion-matrix")
    figures = live_figures(at)
    figure = figures["img-confusion"]
    assert figure["data"][0]["type"] == "heatmap"
    np.testing.assert_allclose(plotly_array(figure["data"][0]["z"]).reshape(10, 10).sum(1), 1, rtol=1e-5)  # row shares
    assert sum(int(count) for row in figure["data"][0]["text"] for count in row) == 2000  # every test image
    accuracy = figures["img-accuracy"]
    assert any(trace.get("name") == "test" for trace in accuracy["data"])
    epoch = at.get_by_key("epoch").markdown[0].value.replace("*", "")
    assert epoch == "Epoch 1"
    assert any(m.value.startswith("Test accuracy") for m in at.markdown)
    assert not session(at).playing  # finished: the button offers Play again
    assert toggle(at).label == "Play"
