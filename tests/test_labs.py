"""Labs: one trainer protocol and one registry that the worker loop, the CLI, the links and the
app's navigation read without knowing which lab they run.

A tiny lab written in `tiny_lab.py` (its page: `tiny.py`) registers, trains in the process
pool, round-trips its link and appears in the app's navigation: nothing else was edited for it.
"""

from __future__ import annotations

import importlib
import math
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from streamlit.testing.v1 import AppTest

from playground import labs
from playground.jobs import JobManager, Play, Step, Update
from playground.labs.protocol import LabTrainer
from playground.tfp_import import import_link

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_S = 60.0


def test_the_built_in_labs_are_registered_with_the_default_page_first():
    names = [lab.name for lab in labs.labs()]
    assert names[:2] == ["two_d", "images"]
    assert labs.get("two_d").url_path == "" and labs.get("images").url_path == "images"
    for lab in labs.labs():
        assert (ROOT / lab.page).is_file(), lab.page
        spec, notes = lab.decode({})
        assert notes == [] and labs.for_spec(spec) is lab
        assert lab.decode(lab.encode(spec)) == (spec, [])
        for name, (description, preset) in lab.presets().items():
            assert description and lab.decode(lab.encode(preset)) == (preset, []), name


def test_no_page_script_shadows_a_package():
    """`pages/playground.py` run on its own would import itself instead of the package."""
    top_level = {path.stem for path in ROOT.iterdir() if (path / "__init__.py").is_file() or path.suffix == ".py"}
    for lab in labs.labs():
        assert Path(lab.page).stem not in top_level | {"streamlit", "torch", "numpy", "plotly"}, lab.page


@pytest.mark.parametrize("link, lab", [
    ("http://localhost:8501/?dataset=xor", "two_d"),
    ("?dataset=xor", "two_d"),
    ("dataset=xor&networkShape=3", "two_d"),
    ("http://localhost:8501/images?layers=flatten,dense10", "images"),
    ("http://example.org/app/images?epochs=2", "images"),  # the page path picks the lab
    ("http://localhost:8501/?layers=flatten,dense10", "images"),  # older Images links on the bare path
    ("?layers=flatten,dense10&epochs=2", "images"),
    ("http://localhost:8501/nowhere?dataset=xor", "two_d"),
])
def test_the_page_path_picks_the_lab(link, lab):
    found, spec, _ = labs.decode_link(link)
    assert found.name == lab and labs.for_spec(spec) is found
    if "layers=" in link:
        assert [layer.kind for layer in spec.layers] == ["flatten", "dense"]


def test_a_tf_playground_link_is_converted_by_the_2d_lab():
    link = "https://playground.tensorflow.org/#dataset=xor&networkShape=3&learningRate=0.1"
    lab, spec, notes = labs.decode_link(link)
    assert lab.name == "two_d" and (spec, notes) == import_link(link)


def test_every_built_in_trainer_follows_the_protocol():
    for lab in labs.labs():
        spec = next(iter(lab.presets().values()))[1]
        trainer = lab.trainer(spec)
        assert isinstance(trainer, LabTrainer), lab.name
        assert trainer.epoch == 0 and trainer.step_count == 0 and trainer.diverged is None
        assert not trainer.finished and trainer.steps_left_in_epoch > 0
        assert set(trainer.metrics()) >= {"train_loss", "test_loss"}
        snap = trainer.snapshot(2)
        assert snap.epoch == 0 and snap.diverged is None


# First training losses of a few presets, recorded on commit e52f089 (before the labs registry)
# with `Trainer(preset).run_epochs(3)` and `ImageTrainer(preset, "cpu")`: settle, then 40 steps
# (the training curve's points, every 20 steps). The refactor must not change one bit of them.
FIRST_LOSSES = {
    "two_d": {
        "circle": [0.6880666017532349, 0.6866698265075684, 0.6852545142173767, 0.6837666034698486],
        "spiral-deep": [0.6930007338523865, 0.6885590553283691, 0.6525945067405701, 0.6095446348190308],
        "moons-relu": [0.7119882106781006, 0.4366128742694855, 0.28436583280563354, 0.2406703531742096],
        "too-fast": [0.2418651133775711],  # diverges in its first epoch
        "regression-gauss": [0.15336835384368896, 0.07047524303197861, 0.052655648440122604, 0.0414036326110363],
    },
    "images": {
        "logistic": [1.5087790966033936, 0.7511183947324753],
        "mlp": [1.2882591992616654, 0.5105801939964294],
    },
}


@pytest.mark.parametrize("lab_name, preset", [(lab, p) for lab, ps in FIRST_LOSSES.items() for p in ps])
def test_presets_train_to_the_losses_recorded_before_the_registry(lab_name, preset):
    lab = labs.get(lab_name)
    spec = lab.presets()[preset][1]
    trainer = lab.trainer(lab.decode(lab.encode(spec))[0])  # through its link, as a page opens it
    if lab_name == "two_d":
        trainer.run_epochs(3)
        losses = trainer.history["train_loss"]
    else:
        trainer.settle(10**6)
        trainer.step(40)
        losses = [point[1] for point in trainer._train_points]
    # Bit for bit on the machine they were recorded on; a CPU with other vector units may round
    # float32 sums differently in the last places.
    assert losses == pytest.approx(FIRST_LOSSES[lab_name][preset], rel=1e-6, abs=0)


# ---- a lab added by registering it, and nothing else ----------------------------------------------


@pytest.fixture
def tiny():
    module = importlib.import_module("tests.tiny_lab")
    labs.register(module.LAB)  # again, if an earlier test unregistered it
    yield module
    labs.unregister("tiny")


def wait_for(manager: JobManager, job_id: str, condition, what: str):
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        snap = manager.latest(job_id)
        if snap is not None and condition(snap):
            return snap
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_new_lab_round_trips_its_link(tiny):
    spec = tiny.TinySpec(target=-1.5, start=0.25, train=tiny.TinyTrain(0.05))
    path, params = labs.encode_link(spec)
    lab, decoded, notes = labs.decode_link(f"http://localhost:8501/{path}?{urlencode(params)}")
    assert lab is tiny.LAB and (decoded, notes) == (spec, [])
    assert labs.decode_link("http://localhost:8501/?target=2")[0].name == "two_d"  # the bare path is not its


def test_a_new_lab_trains_in_the_worker_pool(tiny):
    spec = tiny.TinySpec(target=3.0, start=0.0)
    manager = JobManager(workers=1, ttl_s=30.0, reap_every_s=0.5)
    try:
        job_id = manager.open(spec, 1)
        first = wait_for(manager, job_id, lambda s: True, "the first snapshot")
        assert isinstance(first, tiny.TinySnapshot) and first.epoch == 0 and first.w == 0.0
        assert manager.send(Step(job_id, 2))
        stepped = wait_for(manager, job_id, lambda s: s.epoch >= 2 and not s.playing, "two epochs")
        reference = tiny.TinyTrainer(spec)
        reference.run_epochs(2)
        assert (stepped.epoch, stepped.step, stepped.w) == (2, 20, reference.w)
        assert manager.send(Update(job_id, tiny.TinyTrain(0.4), 2))
        assert manager.send(Play(job_id))
        done = wait_for(manager, job_id, lambda s: s.epoch >= 5 and s.spec_version == 2, "training on")
        assert math.isclose(done.w, 3.0, abs_tol=1e-6) and done.loss < 1e-12
    finally:
        manager.shutdown()


def test_a_new_lab_is_listed_by_the_cli(tiny, capsys):
    from playground.__main__ import main

    assert main(["presets", "--base", "http://example.org/app/"]) == 0
    out = capsys.readouterr().out
    assert "Tiny:\nclose: Start next to the target\n  http://example.org/app/tiny?target=3&start=2.9" in out
    assert main(["train", "http://example.org/app/tiny?target=1&start=0", "--epochs", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "epoch loss" and [line.split()[0] for line in lines[1:]] == ["1", "2"]


def test_a_new_lab_has_its_page_in_the_app(tiny):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.query_params["target"] = "4"
    at.switch_page("tests/tiny.py")  # its file is named as its url path, so it is found before a first run
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Tiny lab: target 4, start 0" in [m.value for m in at.markdown]


@pytest.mark.parametrize("first", ["playground.images.link", "playground.sharelink", "playground.labs",
                                   "playground.jobs", "playground.capacity"])
def test_any_link_module_can_be_imported_first(first):
    """A page imports its own codec first (pages/images.py: the Images codec), a worker the jobs;
    the codecs and the readers they share must not depend on who came first."""
    code = f"import {first}; from playground.sharelink import decode_image; from playground import labs; labs.get('images')"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
