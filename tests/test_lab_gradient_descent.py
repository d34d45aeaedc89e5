"""Lab "Gradient descent": the line fit, the optimizer race and the surfaces, checked against
closed forms and hand-written update rules (the page and the registry are tested elsewhere)."""

from __future__ import annotations

import pickle
from dataclasses import replace

import numpy as np
import pytest
import torch

from playground.labs.gradient_descent import build
from playground.labs.gradient_descent.data import least_squares, make_points
from playground.labs.gradient_descent.linefit import LineFit
from playground.labs.gradient_descent.optimizers import stability_limit
from playground.labs.gradient_descent.race import Race
from playground.labs.gradient_descent.snapshot import HEAD, TAIL, Track
from playground.labs.gradient_descent.spec import OPTIMIZERS, SURFACES, DataSpec, GradientSpec, TrainSpec
from playground.labs.gradient_descent.surfaces import get_surface, grid


def fit(steps: int = 1000, data: DataSpec = DataSpec(), **train) -> LineFit:
    return build(GradientSpec(data=data, train=TrainSpec(steps=steps, **train)))


def race(surface: str, start=None, **train) -> Race:
    return build(GradientSpec(mode="race", surface=surface, start=start, train=TrainSpec(**train)))


# ---- the line fit ----------------------------------------------------------------------------------


def test_full_batch_gd_reaches_the_least_squares_line():
    """Default data (w=2, b=-1, noise 0.5, 30 points, seed 0): L = 2.02, so 2/L = 0.99. Plain GD at
    learning rate 0.1 for 150 full-batch steps ends 1.7e-5 from numpy's lstsq optimum (measured;
    100 steps: 1.06e-3), asserted within 1e-3."""
    t = fit(150, learning_rate=0.1)
    t.step(1000)  # stops itself at the spec's 150 steps
    s = t.snapshot()
    assert s.step == 150 and s.epoch == 150 and s.finished and s.diverged is None
    pts = make_points(DataSpec())
    w, b = least_squares(np.stack([pts.x, np.ones_like(pts.x)], 1), pts.y)
    assert np.allclose(s.optimum, (w, b), atol=1e-12)
    assert max(abs(s.coef[0] - w), abs(s.coef[1] - b)) < 1e-3
    assert abs(s.loss - s.optimum_loss) < 1e-6
    assert s.track[0, 1:3].tolist() == [-2.0, 2.0]  # the default start (w, b)
    assert s.track[-1, 0] == 150 and np.allclose(s.track[-1, 1:3], s.coef)
    assert np.all(np.diff(s.track[:, 3]) <= 1e-12)  # below 2/L, full-batch GD never raises the MSE


def test_mini_batch_sgd_counts_epochs_and_lands_near_the_optimum():
    """Batches of 10 out of 30 points: 3 updates an epoch. At learning rate 0.05, 600 steps end
    within 0.05 of the optimum (measured about 0.01; the batch noise keeps it from settling)."""
    t = fit(600, learning_rate=0.05, batch_size=10)
    t.step(600)
    s = t.snapshot()
    assert s.epoch == 200 and s.step == 600
    assert max(abs(c - o) for c, o in zip(s.coef, s.optimum)) < 0.05


def test_too_large_a_learning_rate_diverges_and_says_why():
    """2/L is 0.992 for the default data; at 1.5 the MSE passes 1e6 times its start in 11 steps."""
    t = fit(1000, learning_rate=1.5)
    t.step(100)
    s = t.snapshot()
    assert s.diverged is not None and s.step < 30
    assert "Learning rate 1.5 is above 2/L = 0.992" in s.diverged and "Lower the learning rate below 0.992" in s.diverged
    assert np.isfinite(s.track).all()  # the blow-up is drawn up to its last finite point
    t.step(10)
    assert t.snapshot().step == s.step  # a diverged run does not go on by itself
    t.apply(replace(t.spec.train, learning_rate=0.5))  # lowering it starts over from the start point
    assert t.diverged is None and t.step_count == 0 and len(t.snapshot().track) == 1
    t.step(200)
    assert max(abs(c - o) for c, o in zip(t.snapshot().coef, t.optimum)) < 1e-6


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov"])
def test_the_stated_stability_limit_is_where_full_batch_runs_diverge(name):
    """The limit the message quotes (2/L, 2(1+μ)/L, 2(1+μ)/((1+2μ)L)) is the real edge: 3% below it
    the run converges in 1500 steps, 3% above it diverges."""
    limit = stability_limit(name, TrainSpec(), fit().sharpness)
    below, above = fit(1500, optimizer=name, learning_rate=0.97 * limit), fit(1500, optimizer=name, learning_rate=1.03 * limit)
    below.step(1500), above.step(1500)
    assert below.diverged is None and max(abs(c - o) for c, o in zip(below.snapshot().coef, below.optimum)) < 1e-6
    assert above.diverged is not None and "above" in above.diverged


def test_adaptive_and_mini_batch_divergence_get_their_own_advice(monkeypatch):
    """RMSprop's steps are bounded by its learning rate, so its MSE rarely reaches 1e6 times the
    start; with the threshold lowered to 2x, learning rate 10 crosses it. Mini-batch SGD below the
    full-data 2/L gets the batch advice instead: one point at a time at 0.9 (2/L = 0.992) diverges
    at step 30 (measured)."""
    monkeypatch.setattr("playground.labs.gradient_descent.linefit.BLOW_UP", 2.0)
    t = fit(100, optimizer="rmsprop", learning_rate=10.0)
    t.step(100)
    assert "Learning rate 10 is too large for RMSprop here: lower it (try 1)." in t.diverged
    monkeypatch.undo()
    m = fit(200, learning_rate=0.9, batch_size=1)
    m.step(200)
    assert m.diverged is not None and "is below 2/L = 0.992 for all the data, but a mini-batch of 1 point can" in m.diverged


def test_degree_15_on_10_points_overfits():
    """sin(πx) + noise 0.2, 10 points, seed 0, features x..x¹⁵ standardised, Adam at 0.01 for 2000
    steps. Measured: training MSE 0.0045, validation MSE (50 held-out points) 0.24, 54 times more;
    degree 3 under the same run: 0.028 and 0.068. Asserted: training MSE below 0.01, validation at least
    10 times it, and worse than degree 3's validation."""
    data = DataSpec(kind="curve", degree=15, points=10, noise=0.2, seed=0)
    t = fit(2000, data=data, optimizer="adam", learning_rate=0.01)
    t.step(2000)
    s = t.snapshot()
    assert s.loss < 0.01 and s.val_loss > 10 * s.loss
    assert len(s.coef) == 16 and s.optimum_loss < 1e-20  # 16 coefficients interpolate 10 points exactly
    cubic = fit(2000, data=replace(data, degree=3), optimizer="adam", learning_rate=0.01)
    cubic.step(2000)
    assert cubic.snapshot().val_loss < s.val_loss


def test_apply_changes_settings_live_and_keeps_the_path():
    t = fit(1000, learning_rate=0.01, optimizer="momentum")
    t.step(20)
    before = t.snapshot()
    t.apply(replace(t.spec.train, learning_rate=0.2))
    assert t.optimizer.param_groups[0]["lr"] == 0.2
    assert t.optimizer.state[t.theta]["momentum_buffer"] is not None  # the velocity is kept
    t.apply(replace(t.spec.train, optimizer="adam"))
    t.step(5)
    after = t.snapshot()
    assert after.step == 25 and np.array_equal(after.track[:21], before.track)


# ---- the race: torch.optim's steps against the formulas -----------------------------------------------


def grad_rosenbrock(p):
    x, y = p
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def grad_ravine(p):
    return np.array([0.2 * p[0], 4.0 * p[1]])


def line_grad(data: DataSpec):
    pts = make_points(data, "line")
    x, y = pts.x, pts.y

    def grad(p):
        r = p[0] * x + p[1] - y
        return np.array([2 * np.mean(r * x), 2 * np.mean(r)])

    return grad


def by_hand(name: str, grad, start, lr: float, steps: int) -> list[np.ndarray]:
    """The seven update rules, written out with torch.optim's defaults (momentum 0.9 as the lab sets it)."""
    p = np.array(start, dtype=np.float64)
    buf = m = v = s = None
    mu, alpha, b1, b2, wd = 0.9, 0.99, 0.9, 0.999, 0.01
    path = [p.copy()]
    for t in range(1, steps + 1):
        g = grad(p)
        if name == "sgd":
            p = p - lr * g
        elif name in ("momentum", "nesterov"):
            buf = g if buf is None else mu * buf + g
            p = p - lr * (g + mu * buf if name == "nesterov" else buf)
        elif name == "rmsprop":
            v = (1 - alpha) * g * g if v is None else alpha * v + (1 - alpha) * g * g
            p = p - lr * g / (np.sqrt(v) + 1e-8)
        elif name == "adagrad":
            s = g * g if s is None else s + g * g
            p = p - lr * g / (np.sqrt(s) + 1e-10)
        else:
            if name == "adamw":
                p = p * (1 - lr * wd)
            m = (1 - b1) * g if m is None else b1 * m + (1 - b1) * g
            v = (1 - b2) * g * g if v is None else b2 * v + (1 - b2) * g * g
            p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + 1e-8)
        path.append(p.copy())
    return path


@pytest.mark.parametrize("surface, grad, start, lr", [
    ("rosenbrock", grad_rosenbrock, (-1.2, 1.0), 0.0005),
    ("ravine", grad_ravine, (-4.5, 1.5), 0.1),
    ("line", line_grad(DataSpec()), (-2.0, 2.0), 0.1),
])
def test_every_runner_takes_torch_optims_steps(surface, grad, start, lr):
    """Eight steps of each optimizer match the formulas to 1e-6 (measured: about 1e-15)."""
    r = race(surface, start=start, learning_rate=lr)
    r.step(8)
    snap = r.snapshot()
    assert [u.name for u in snap.runners] == list(OPTIMIZERS)
    for u in snap.runners:
        expected = np.array(by_hand(u.name, grad, start, lr, 8))
        assert u.steps == 8 and u.path[:, 0].tolist() == list(range(9))
        assert np.abs(u.path[:, 1:3] - expected).max() < 1e-6, u.name


def test_the_race_is_deterministic_and_reports_per_runner():
    a, b = race("beale", learning_rate=0.01), race("beale", learning_rate=0.01)
    a.step(120), b.step(50), b.step(70)
    sa, sb = a.snapshot(), b.snapshot()
    for ua, ub in zip(sa.runners, sb.runners):
        assert np.array_equal(ua.path, ub.path) and ua.loss == ub.loss and ua.point == ub.point
    assert sa.start == (1.0, 1.0) and all(u.path[0, 1:3].tolist() == [1.0, 1.0] for u in sa.runners)
    assert sa.step == 120 and sa.minima == ((3.0, 0.5),)
    start_distance = get_surface("beale").distance((1.0, 1.0))
    assert all(u.distance is not None and u.distance < start_distance for u in sa.runners)


def test_a_runner_that_blows_up_stops_and_the_others_race_on():
    """Rosenbrock at learning rate 0.01: the SGD family blows up within 3 steps; the adaptive ones do not."""
    r = race("rosenbrock", learning_rate=0.01, steps=200)
    r.step(200)
    s = r.snapshot()
    stopped = {u.name for u in s.runners if u.stopped}
    assert stopped == {"sgd", "momentum", "nesterov"}
    assert all("too large" in u.stopped for u in s.runners if u.stopped)
    assert s.finished and s.diverged is None and s.step == 200
    r.apply(replace(r.spec.train, learning_rate=0.0005))  # the ones that blew up start over
    assert all(u.steps == 0 for u in r.snapshot().runners if u.name in stopped)
    assert r.runners[OPTIMIZERS.index("adam")].steps == 200


def test_the_saddle_has_no_optimum_and_runners_roll_off():
    r = race("saddle", learning_rate=0.1, steps=1000)
    r.step(1000)
    s = r.snapshot()
    assert s.minima == () and all(u.distance is None for u in s.runners)
    assert all(u.loss < -1 for u in s.runners)  # all escaped the saddle point downhill
    assert any(u.stopped and "no minimum" in u.stopped for u in s.runners)
    assert s.diverged is None


def test_every_runner_diverging_diverges_the_race(monkeypatch):
    """Adagrad and Adam's steps are bounded by the learning rate, so in practice some runner survives;
    with the blow-up threshold at 0 every step on Beale (loss > 0) counts as blowing up."""
    monkeypatch.setattr("playground.labs.gradient_descent.race.BLOW_UP", 0.0)
    r = race("beale", learning_rate=0.01, steps=500)
    r.step(5)
    assert all(u.stopped for u in r.snapshot().runners)
    assert r.finished and r.diverged is not None and "Lower it" in r.diverged


# ---- surfaces --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SURFACES)
def test_surfaces_minima_starts_and_grids(name):
    s = get_surface(name)
    x0, x1, y0, y1 = s.box
    assert x0 <= s.start[0] <= x1 and y0 <= s.start[1] <= y1
    xs, ys, z = grid(s, 60)
    assert xs.shape == (60,) and ys.shape == (60,) and z.shape == (60, 60) and np.isfinite(z).all()
    assert z[5, 7] == pytest.approx(float(s(torch.tensor([xs[7], ys[5]], dtype=torch.float64))))  # z[row=y, col=x]
    for m in s.minima:
        p = torch.tensor(m, dtype=torch.float64, requires_grad=True)
        s(p).backward()
        assert p.grad.abs().max() < 1e-9  # a stationary point
        assert float(s(p).detach()) <= z.min() + 1e-12  # and no grid point is lower
        assert x0 <= m[0] <= x1 and y0 <= m[1] <= y1
    assert (s.distance(s.start) is None) == (name == "saddle")


def test_the_line_surface_is_the_fits_mse():
    data = DataSpec(w=-1.5, b=0.7, noise=0.3, points=40, seed=3)
    s = get_surface("line", data)
    pts = make_points(data, "line")
    for w, b in [(0.0, 0.0), (2.0, -1.0), s.minima[0]]:
        direct = np.mean((w * pts.x + b - pts.y) ** 2)
        assert float(s(torch.tensor([w, b], dtype=torch.float64))) == pytest.approx(direct, rel=1e-12)
    assert s.minima[0] == pytest.approx(tuple(least_squares(np.stack([pts.x, np.ones(40)], 1), pts.y)))


# ---- checkpoints and snapshots ---------------------------------------------------------------------------


def test_a_fit_checkpoint_continues_bit_for_bit():
    """Mini-batches (a shuffle half used), Adam's running averages: all carried across."""
    a = fit(1000, optimizer="adam", learning_rate=0.05, batch_size=7)
    a.step(23)
    state = a.checkpoint()
    a.step(40)  # training on must not change the checkpoint taken
    b = fit(1000, optimizer="adam", learning_rate=0.05, batch_size=7)
    b.restore(pickle.loads(pickle.dumps(state)))
    b.step(40)
    sa, sb = a.snapshot(), b.snapshot()
    assert sa.coef == sb.coef and sa.epoch == sb.epoch and np.array_equal(sa.track, sb.track)
    b.restore(state)  # twice from the same checkpoint: still the same
    b.step(40)
    assert b.snapshot().coef == sa.coef


def test_a_race_checkpoint_continues_bit_for_bit():
    a = race("rosenbrock", learning_rate=0.01)
    a.step(30)
    state = a.checkpoint()
    a.step(50)
    b = race("rosenbrock", learning_rate=0.01)
    b.restore(state)
    b.step(50)
    for ua, ub in zip(a.snapshot().runners, b.snapshot().runners):
        assert ua.point == ub.point and ua.stopped == ub.stopped and np.array_equal(ua.path, ub.path)


def test_checkpoints_are_plain_and_weights_only_loadable(tmp_path):
    for trainer in (fit(optimizer="nesterov", batch_size=5), race("ravine")):
        trainer.step(10)
        torch.save(trainer.checkpoint(), tmp_path / "c.pt")
        trainer.restore(torch.load(tmp_path / "c.pt", weights_only=True))


def test_tracks_and_snapshots_stay_small():
    track = Track(2)
    for step in range(100_000):
        track.add((step, 0.0))
    rows = track.array()
    assert len(rows) <= HEAD + TAIL + 1 and rows[:HEAD, 0].tolist() == list(range(HEAD)) and rows[-1, 0] == 99_999
    r = race("ravine", learning_rate=0.01, steps=1000)
    r.step(1000)
    assert all(len(u.path) <= HEAD + TAIL + 1 for u in r.snapshot().runners)
    assert len(pickle.dumps(r.snapshot())) < 300_000  # seven paths of at most ~750 points
    t = fit(3000, learning_rate=0.01)
    t.step(3000)
    assert len(pickle.dumps(t.snapshot())) < 100_000
