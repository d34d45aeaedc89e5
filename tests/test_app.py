"""The 2-D page under Streamlit's AppTest: widgets in, spec and link out, live view drawn.

AppTest never fires `run_every`, so tests rerun the script until the background job has moved.
The jobs run in the real worker pool (one spawned worker for the whole test process).
"""

import base64
import json
import time

import numpy as np

import pytest
from streamlit.testing.v1 import AppTest

from playground.data.toy import make_data
from playground.sharelink import encode
from playground.ui.session import job_manager
from playground.ui.transport import DEBOUNCE_S, _set_playing
from tests.conftest import ROOT
from playground.spec import RunSpec

TIMEOUT = 60


def toggle(at: AppTest):
    """The Play/Pause button, whichever it shows (each has its own key: see transport.py)."""
    for key in ("play-button", "pause-button"):
        try:
            return at.button(key=key)
        except KeyError:
            continue
    raise KeyError("no Play/Pause button on the page")


def open_app(params: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def session(at: AppTest):
    return at.session_state["playground_session"]


def rerun_until(at: AppTest, condition, deadline_s: float = TIMEOUT):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if condition(at):
            return
        time.sleep(0.2)
    raise AssertionError("condition not met before the deadline")


def epoch_text(at: AppTest) -> str:
    return " ".join(m.value.replace("*", "") for m in at.get("markdown") if m.value.startswith("Epoch"))


def epoch(at: AppTest) -> int:
    snap = session(at).job_id and _latest(at)
    return snap.epoch if snap else -1


def plotly_array(value) -> np.ndarray:
    """A data array of a Plotly figure's JSON: a list, or a typed array {dtype, bdata[, shape]}."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)


def live_figures(at: AppTest) -> dict[str, dict]:
    """The Plotly figures the page's live charts (playground.ui.live_chart) were given, by key."""
    figures = {}
    for element in at.get("component_instance"):
        proto = element.proto
        if proto.component_name.endswith("live_chart"):
            key = proto.id.split("-", 2)[2]  # "$$ID-<hash>-<user key>"
            figures[key] = json.loads(json.loads(proto.json_args)["figure"])
    return figures


def _latest(at: AppTest):
    from playground.ui.session import job_manager

    return job_manager().latest(session(at).job_id)


def test_default_page_draws_everything_and_writes_the_link():
    at = open_app()
    rerun_until(at, lambda a: _latest(a) is not None)
    at.run()
    assert session(at).spec == RunSpec()
    assert "Epoch 0" in epoch_text(at)
    assert {k: v[-1] if isinstance(v, list) else v for k, v in at.query_params.items()} == encode(RunSpec())
    code = [c.value for c in at.code]
    assert any("dataset=circle" in c and "networkShape=4,2" in c for c in code), code
    figures = live_figures(at)
    assert sorted(figures) == ["boundary-figure", "loss-figure"]
    boundary = figures["boundary-figure"]["data"]
    assert [t["type"] for t in boundary] == ["scatter"]
    points = make_data(RunSpec().data).x_train
    np.testing.assert_allclose(plotly_array(boundary[0]["x"]), points[:, 0], rtol=1e-6)  # the training points
    (picture,) = figures["boundary-figure"]["layout"]["images"]  # the network's output
    assert picture["source"].startswith("data:image/png;base64,")
    html = [h.proto.body for h in at.get("html") if "nn-node" in h.proto.body]
    assert html and html[0].count('class="nn-node"') == 2 + 4 + 2 + 1


def test_link_settings_are_restored_and_bad_ones_are_listed():
    at = open_app({"dataset": "xor", "networkShape": "3", "learningRate": "banana", "noise": "500", "foo": "1"})
    spec = session(at).spec
    assert spec.data.dataset == "xor"
    assert [layer.units for layer in spec.layers] == [3]
    assert spec.train.learning_rate == 0.03
    assert spec.data.noise == 50
    notes = " ".join(m.value for m in at.get("markdown"))
    assert "learningRate" in notes and "'foo'" in notes and "Noise" in notes
    assert at.selectbox(key="dataset").value == "xor"
    assert at.slider(key="noise").value == 50


def test_play_trains_and_pause_stops():
    at = open_app()
    toggle(at).click().run()
    assert session(at).playing
    rerun_until(at, lambda a: epoch(a) >= 5)
    time.sleep(DEBOUNCE_S)  # two clicks closer than this count as one (see transport.py)
    toggle(at).click().run()
    assert not session(at).playing
    rerun_until(at, lambda a: _latest(a) is not None and not _latest(a).playing)
    stopped = epoch(at)
    time.sleep(0.5)
    at.run()
    assert epoch(at) == stopped
    at.button(key="step").click().run()
    rerun_until(at, lambda a: epoch(a) == stopped + 1)


def test_changing_architecture_resets_and_updates_the_link():
    at = open_app()
    at.button(key="add_layer").click().run()
    assert [layer.units for layer in session(at).spec.layers] == [4, 2, 2]
    assert at.query_params["networkShape"] in ("4,2,2", ["4,2,2"])
    at.number_input(key="units_0").set_value(7).run()
    assert [layer.units for layer in session(at).spec.layers] == [7, 2, 2]
    assert any("network architecture changed" in t.value for t in at.toast), [t.value for t in at.toast]
    at.selectbox(key="activation_1").set_value("relu").run()
    assert [layer.activation for layer in session(at).spec.layers] == ["tanh", "relu", "tanh"]
    rerun_until(at, lambda a: _latest(a) is not None and len(_latest(a).weights) == 4)
    assert _latest(at).weights[0].shape == (7, 2)


def test_an_echoed_click_does_not_undo_play():
    """Streamlit can deliver one click again in a later run (it keeps a trigger across runs it
    merges): the Play button's handler then asks for what is done already, and nothing changes,
    however late the echo comes. A click on the Pause button shown since does pause."""
    at = open_app()
    play = toggle(at)
    play.click().run()
    assert session(at).playing and toggle(at).key == "pause-button"
    rerun_until(at, lambda a: epoch(a) >= 1)
    time.sleep(DEBOUNCE_S)
    _set_playing(session(at), job_manager(), True)  # the Play click delivered again
    at.run()
    assert session(at).playing and toggle(at).label == "Pause"
    toggle(at).click().run()
    assert not session(at).playing
    _set_playing(session(at), job_manager(), False)  # the Pause click delivered again
    assert not session(at).playing


def test_learning_rate_changes_live_without_reset():
    at = open_app()
    toggle(at).click().run()
    rerun_until(at, lambda a: epoch(a) >= 20)
    version = session(at).version
    at.select_slider(key="learning_rate").set_value(0.1).run()
    assert session(at).spec.train.learning_rate == 0.1
    assert session(at).version == version + 1 and session(at).playing
    rerun_until(at, lambda a: _latest(a).spec_version == session(a).version)
    assert _latest(at).epoch >= 20  # the network kept training, it was not reset
    toggle(at).click().run()


def test_tensorflow_playground_link_import():
    at = open_app()
    link = ("https://playground.tensorflow.org/#activation=relu&batchSize=20&dataset=spiral&regDataset=reg-plane"
            "&learningRate=0.1&regularizationRate=0.001&noise=10&networkShape=6,3&seed=0.12345&showTestData=true"
            "&discretize=false&percTrainData=70&x=true&y=true&xTimesY=false&xSquared=true&ySquared=true&cosX=true"
            "&sinX=false&cosY=false&sinY=false&collectStats=false&problem=classification&initZero=false&hideText=false"
            "&regularization=L2")
    at.text_input(key="tfp-import").input(link).run()
    spec = session(at).spec
    assert spec.data.dataset == "spiral" and spec.data.noise == 10 and spec.data.train_percent == 70
    assert [(layer.units, layer.activation) for layer in spec.layers] == [(6, "relu"), (3, "relu")]
    assert spec.train.batch_size == 20 and spec.train.regularization == "L2"
    assert spec.features == ("x", "y", "xSquared", "ySquared")
    assert at.query_params["dataset"] in ("spiral", ["spiral"])
    assert at.slider(key="noise").value == 10
    notes = " ".join(m.value for m in at.get("markdown"))
    assert "cosX" in notes and "seed" in notes


def test_divergence_is_explained_and_training_stops():
    at = open_app({"learningRate": "10", "activation": "relu", "networkShape": "8,8", "problem": "regression",
                   "regDataset": "reg-gauss", "loss": "mse", "batchSize": "1"})
    toggle(at).click().run()
    rerun_until(at, lambda a: _latest(a) is not None and _latest(a).diverged is not None)
    at.run()
    errors = " ".join(e.value for e in at.error)
    assert "lower learning rate" in errors
    assert toggle(at).label == "Play"


@pytest.mark.parametrize("problem", ["regression"])
def test_regression_page(problem):
    at = open_app({"problem": problem, "regDataset": "reg-gauss"})
    assert session(at).spec.loss == "mse"
    assert at.selectbox(key="loss").options == ["Mean squared error", "Mean absolute error", "Huber"]
    at.selectbox(key="loss").set_value("huber").run()
    assert session(at).spec.loss == "huber"
    assert at.query_params["loss"] in ("huber", ["huber"])


def test_visiting_the_images_page_keeps_the_2d_network():
    at = open_app({"networkShape": "5,3", "activations": "relu,sigmoid"})
    before = session(at).spec
    at.switch_page("pages/images.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page("pages/two_d.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert session(at).spec == before
    assert at.number_input(key="units_0").value == 5
    assert at.selectbox(key="activation_1").value == "sigmoid"
