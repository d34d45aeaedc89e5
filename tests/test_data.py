"""The seeded 2-D data sets and the input feature maps."""

from __future__ import annotations

import numpy as np
import pytest

from playground.data.features import FEATURE_FUNCTIONS, FEATURE_LABELS, feature_matrix
from playground.data.toy import DOMAIN, GENERATORS, make_data, reg_gauss_label
from playground.spec import CLASSIFY_DATASETS, FEATURES, REGRESS_DATASETS, DataSpec

CLASSIFY = list(CLASSIFY_DATASETS)
REGRESS = list(REGRESS_DATASETS)


def data_spec(name: str, **kw) -> DataSpec:
    if name in REGRESS:
        return DataSpec(problem="regression", reg_dataset=name, **kw)
    return DataSpec(problem="classification", dataset=name, **kw)


def arrays(data):
    return (data.x_train, data.y_train, data.x_test, data.y_test)


def test_every_choice_has_a_generator():
    assert set(GENERATORS) == set(CLASSIFY) | set(REGRESS)


@pytest.mark.parametrize("name", CLASSIFY + REGRESS)
@pytest.mark.parametrize("noise", [0, 30])
def test_same_seed_same_points(name, noise):
    a = make_data(data_spec(name, noise=noise, seed=3))
    b = make_data(data_spec(name, noise=noise, seed=3))
    for x, y in zip(arrays(a), arrays(b)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", CLASSIFY + REGRESS)
def test_different_seed_different_points(name):
    a = make_data(data_spec(name, noise=10, seed=1))
    b = make_data(data_spec(name, noise=10, seed=2))
    assert not np.array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_test, b.x_test)


@pytest.mark.parametrize("name", CLASSIFY + REGRESS)
def test_generators_draw_only_from_the_given_rng(name):
    n = 40
    p1, l1 = GENERATORS[name](n, 0.1, np.random.default_rng(5))
    np.random.seed(0)  # the global generator must not matter
    p2, l2 = GENERATORS[name](n, 0.1, np.random.default_rng(5))
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(l1, l2)
    assert p1.shape == (n, 2) and l1.shape == (n,)


@pytest.mark.parametrize("name", CLASSIFY + REGRESS)
@pytest.mark.parametrize("percent", [10, 50, 63, 90])
def test_shapes_and_split(name, percent):
    spec = data_spec(name, train_percent=percent, noise=20)
    data = make_data(spec)
    total = 500 if name in CLASSIFY else 1200
    assert spec.num_samples == total
    k = int(total * percent / 100)
    assert spec.num_train == k
    assert data.x_train.shape == (k, 2) and data.y_train.shape == (k,)
    assert data.x_test.shape == (total - k, 2) and data.y_test.shape == (total - k,)
    for array in arrays(data):
        assert array.dtype == np.float32
        assert np.isfinite(array).all()


@pytest.mark.parametrize("name", CLASSIFY + REGRESS)
def test_split_is_one_shuffled_set(name):
    """Train and test together are exactly the generated points, in a shuffled order."""
    spec = data_spec(name, noise=5, seed=11)
    data = make_data(spec)
    rng = np.random.default_rng(spec.seed)
    points, labels = GENERATORS[name](spec.num_samples, spec.noise / 100, rng)
    both = np.concatenate([data.x_train, data.x_test])
    order = np.lexsort(both.T)
    expected = points.astype(np.float32)
    np.testing.assert_array_equal(both[order], expected[np.lexsort(expected.T)])
    np.testing.assert_array_equal(
        np.concatenate([data.y_train, data.y_test])[order], labels.astype(np.float32)[np.lexsort(expected.T)]
    )
    assert not np.array_equal(both, expected)  # shuffled, not in generation order


@pytest.mark.parametrize("name", CLASSIFY)
@pytest.mark.parametrize("noise", [0, 50])
def test_classification_labels(name, noise):
    data = make_data(data_spec(name, noise=noise, seed=4))
    for labels in (data.y_train, data.y_test):
        assert set(np.unique(labels)) == {0.0, 1.0}  # both classes in each split
    share = np.concatenate([data.y_train, data.y_test]).mean()
    assert 0.3 < share < 0.7


@pytest.mark.parametrize("name", REGRESS)
@pytest.mark.parametrize("noise", [0, 50])
def test_regression_labels(name, noise):
    data = make_data(data_spec(name, noise=noise, seed=4))
    labels = np.concatenate([data.y_train, data.y_test])
    assert labels.min() >= -1 and labels.max() <= 1
    assert labels.min() < -0.5 and labels.max() > 0.5  # they use the range
    assert len(np.unique(labels)) > 100


@pytest.mark.parametrize("name", CLASSIFY + REGRESS)
def test_points_lie_near_the_square(name):
    data = make_data(data_spec(name, noise=0))
    points = np.concatenate([data.x_train, data.x_test])
    assert np.abs(points).max() <= DOMAIN + 0.5


def test_circle_without_noise_is_separated_by_radius():
    data = make_data(data_spec("circle"))
    r = np.hypot(data.x_train[:, 0], data.x_train[:, 1])
    assert (r[data.y_train == 1] < 2.5 + 1e-5).all()
    assert (r[data.y_train == 0] >= 3.5 - 1e-5).all()


def test_xor_without_noise_follows_the_quadrants():
    data = make_data(data_spec("xor"))
    x, y = data.x_train[:, 0], data.x_train[:, 1]
    np.testing.assert_array_equal(data.y_train, (x * y >= 0).astype(np.float32))


def test_reg_plane_without_noise_is_the_plane():
    data = make_data(data_spec("reg-plane"))
    x, y = data.x_train[:, 0].astype(np.float64), data.x_train[:, 1].astype(np.float64)
    np.testing.assert_allclose(data.y_train, np.clip((x + y) / 10, -1, 1), atol=1e-5)


def test_reg_gauss_label_peaks_at_the_centres():
    cx = np.array([-4, 0, 4, -4, 0, 4.0])
    cy = np.array([2.5, 2.5, 2.5, -2.5, -2.5, -2.5])
    np.testing.assert_allclose(reg_gauss_label(cx, cy), [1, -1, 1, -1, 1, -1])
    assert reg_gauss_label(np.array([0.0]), np.array([0.0]))[0] == 0


# ---- feature_matrix ---------------------------------------------------------------------------


def test_feature_names_cover_every_feature():
    assert set(FEATURE_FUNCTIONS) == set(FEATURES) == set(FEATURE_LABELS)


def test_feature_matrix_columns_equal_the_formulas():
    rng = np.random.default_rng(0)
    points = rng.uniform(-6, 6, (200, 2)).astype(np.float32)
    x, y = points[:, 0].astype(np.float64), points[:, 1].astype(np.float64)
    expected = {
        "x": x,
        "y": y,
        "xSquared": x**2,
        "ySquared": y**2,
        "xTimesY": x * y,
        "sinX": np.sin(x),
        "sinY": np.sin(y),
    }
    matrix = feature_matrix(points, FEATURES)
    assert matrix.shape == (200, 7) and matrix.dtype == np.float32
    for i, name in enumerate(FEATURES):
        np.testing.assert_allclose(matrix[:, i], expected[name], rtol=1e-6, atol=1e-6, err_msg=name)


def test_feature_matrix_keeps_the_order_given():
    points = np.array([[1.0, 2.0], [-3.0, 0.5]], dtype=np.float32)
    matrix = feature_matrix(points, ("xTimesY", "y", "xSquared"))
    np.testing.assert_allclose(matrix, [[2.0, 2.0, 1.0], [-1.5, 0.5, 9.0]])


def test_feature_matrix_single_feature():
    points = np.array([[0.0, np.pi / 2]], dtype=np.float32)
    np.testing.assert_allclose(feature_matrix(points, ("sinY",)), [[1.0]], atol=1e-6)
