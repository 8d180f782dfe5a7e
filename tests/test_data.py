"""tinygrad_lite.data: the packaged Iris data, the seed-protocol split, one_hot, normalize, DataLoader."""

from __future__ import annotations

import hashlib
from importlib import resources

import numpy as np
import pytest

from tinygrad_lite.data import DataLoader, load_iris, normalize, one_hot, train_test_split

IRIS_SHA256 = "9cc1c345c71bcc9b486b74cbf6063fa66f4bb5e0f603a4b3c3471ec2e5e8e355"


# ------------------------------------------------------------------------------------------ load_iris


def test_packaged_csv_is_the_documented_file() -> None:
    raw = (resources.files("tinygrad_lite") / "datasets" / "iris.csv").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == IRIS_SHA256
    assert (resources.files("tinygrad_lite") / "datasets" / "README.md").is_file()


def test_load_iris_shapes_dtypes_names() -> None:
    X, y, feature_names, target_names = load_iris()
    assert X.shape == (150, 4) and X.dtype == np.float64
    assert y.shape == (150,) and y.dtype == np.int64
    assert list(feature_names) == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert list(target_names) == ["setosa", "versicolor", "virginica"]
    assert all(isinstance(n, str) for n in [*feature_names, *target_names])


def test_load_iris_values_match_data_readme() -> None:
    X, y, _, _ = load_iris()
    # Column means from tinygrad_lite/datasets/README.md (Fisher's version, not UCI's: sepal_width would be 3.0540).
    np.testing.assert_allclose(X.mean(axis=0), [5.8433, 3.0573, 3.7580, 1.1993], atol=5e-5)
    # Sorted by species, 50 rows each; first row and the two rows where UCI's copy differs.
    np.testing.assert_array_equal(y, np.repeat([0, 1, 2], 50))
    np.testing.assert_array_equal(X[0], [5.1, 3.5, 1.4, 0.2])
    np.testing.assert_array_equal(X[34], [4.9, 3.1, 1.5, 0.2])
    np.testing.assert_array_equal(X[37], [4.9, 3.6, 1.4, 0.1])


def test_load_iris_returns_fresh_arrays() -> None:
    X, y, _, _ = load_iris()
    X[:] = 0
    y[:] = 0
    X2, y2, _, _ = load_iris()
    assert X2[0, 0] == 5.1 and y2[-1] == 2


# ----------------------------------------------------------------------------------- train_test_split


def test_split_sizes_and_order() -> None:
    X = np.arange(150 * 2).reshape(150, 2)
    y = np.arange(150)
    X_train, X_test, y_train, y_test = train_test_split(X, y, seed=0)
    assert X_train.shape == (100, 2) and X_test.shape == (50, 2)
    assert y_train.shape == (100,) and y_test.shape == (50,)
    # Rows stay aligned across arrays, and train ∪ test is a partition.
    np.testing.assert_array_equal(X_train[:, 0] // 2, y_train)
    np.testing.assert_array_equal(X_test[:, 0] // 2, y_test)
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == list(range(150))


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_split_follows_seed_protocol_exactly(seed: int) -> None:
    y = np.arange(150)
    perm = np.random.RandomState(seed).permutation(150)
    y_train, y_test = train_test_split(y, test_size=0.33, seed=seed)
    np.testing.assert_array_equal(y_test, perm[:50])
    np.testing.assert_array_equal(y_train, perm[50:])


def test_split_accepts_a_random_state_and_advances_it() -> None:
    """The case study draws its weights from the same stream after the split."""
    rs = np.random.RandomState(3)
    y_train, y_test = train_test_split(np.arange(150), seed=rs)
    after = rs.random_sample(3)
    expected = np.random.RandomState(3)
    perm = expected.permutation(150)
    np.testing.assert_array_equal(y_test, perm[:50])
    np.testing.assert_array_equal(after, expected.random_sample(3))


def test_split_seed_none_uses_numpy_global_state() -> None:
    np.random.seed(7)
    a = train_test_split(np.arange(20), seed=None)
    np.random.seed(7)
    b = train_test_split(np.arange(20))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize(
    ("n", "test_size", "n_test"), [(150, 0.33, 50), (10, 0.25, 3), (10, 0.5, 5), (7, 3, 3)]
)
def test_split_test_size_rounds_up_like_scikit_learn(n: int, test_size: float, n_test: int) -> None:
    train, test = train_test_split(np.arange(n), test_size=test_size, seed=0)
    assert len(test) == n_test and len(train) == n - n_test


def test_split_accepts_lists_and_returns_numpy() -> None:
    X_train, X_test = train_test_split([[1, 2], [3, 4], [5, 6]], test_size=1, seed=0)
    assert isinstance(X_train, np.ndarray) and X_train.shape == (2, 2) and X_test.shape == (1, 2)


@pytest.mark.parametrize(
    ("arrays", "kwargs", "error", "match"),
    [
        ((), {}, ValueError, r"train_test_split: at least one array"),
        ((np.zeros((5, 2)), np.zeros(4)), {}, ValueError, r"train_test_split: .*\(5, 2\), \(4,\)"),
        ((np.float64(3.0),), {}, ValueError, r"train_test_split: .*scalar"),
        ((np.zeros(10),), {"test_size": 0.0}, ValueError, r"train_test_split: test_size must be in \(0, 1\)"),
        ((np.zeros(10),), {"test_size": 1.0}, ValueError, r"train_test_split: test_size must be in \(0, 1\)"),
        ((np.zeros(10),), {"test_size": -0.2}, ValueError, r"train_test_split: test_size"),
        ((np.zeros(10),), {"test_size": 10}, ValueError, r"train_test_split: test_size=10 rows"),
        ((np.zeros(10),), {"test_size": 0}, ValueError, r"train_test_split: test_size=0 rows"),
        ((np.zeros(1),), {}, ValueError, r"train_test_split: test_size=0.33 with 1 rows"),
        ((np.zeros(10),), {"test_size": "half"}, TypeError, r"train_test_split: test_size"),
        ((np.zeros(10),), {"test_size": True}, TypeError, r"train_test_split: test_size"),
        ((np.zeros(10),), {"seed": 1.5}, TypeError, r"train_test_split: seed"),
        ((np.zeros(10),), {"seed": -1}, ValueError, r"train_test_split: seed"),
    ],
)
def test_split_bad_inputs(arrays: tuple, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        train_test_split(*arrays, **kwargs)


# -------------------------------------------------------------------------------------------- one_hot


def test_one_hot_values_dtype_and_classes() -> None:
    out = one_hot(np.array([0, 2, 1, 2]))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]])
    assert one_hot([1, 1], num_classes=4).shape == (2, 4)
    assert one_hot(np.zeros((2, 3), dtype=np.int32), 2).shape == (2, 3, 2)
    assert one_hot(np.array([], dtype=np.int64), 3).shape == (0, 3)


@pytest.mark.parametrize(
    ("y", "num_classes", "error", "match"),
    [
        ([0, 3], 3, ValueError, r"one_hot: labels must be in \[0, 3\), got min 0 and max 3"),
        ([-1, 0], None, ValueError, r"one_hot: labels must be in"),
        ([0.0, 1.0], None, TypeError, r"one_hot: labels must be integers, got dtype float64"),
        ([True, False], None, TypeError, r"one_hot: labels must be integers"),
        ([0, 1], 0, ValueError, r"one_hot: num_classes must be a positive int"),
        ([0, 1], 2.0, ValueError, r"one_hot: num_classes must be a positive int"),
        (np.array([], dtype=np.int64), None, ValueError, r"one_hot: num_classes is required"),
    ],
)
def test_one_hot_bad_inputs(y: object, num_classes: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        one_hot(y, num_classes)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ normalize


def test_normalize_rows_to_unit_l2_norm_and_zero_rows_unchanged() -> None:
    X = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])
    out = normalize(X)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [1.0, 0.0]])
    assert not np.isnan(out).any()
    np.testing.assert_array_equal(X, [[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])  # input untouched


def test_normalize_order_axis_and_dtypes() -> None:
    X = np.array([[1.0, -3.0], [2.0, 2.0]])
    np.testing.assert_allclose(normalize(X, order=1), [[0.25, -0.75], [0.5, 0.5]])
    np.testing.assert_allclose(normalize(X, order=np.inf), [[1 / 3, -1.0], [1.0, 1.0]])
    np.testing.assert_allclose(np.linalg.norm(normalize(X, axis=0), axis=0), [1.0, 1.0])
    assert normalize(X.astype(np.float32)).dtype == np.float32
    assert normalize(np.array([[3, 4]])).dtype == np.float64


def test_normalize_iris_like_the_article() -> None:
    X, _, _, _ = load_iris()
    np.testing.assert_allclose(np.linalg.norm(normalize(X), axis=1), 1.0, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize(
    ("X", "kwargs", "match"),
    [
        (np.float64(2.0), {}, r"normalize: X must have at least one dimension"),
        (np.ones((2, 2)), {"axis": 2}, r"normalize: axis 2 is out of range for X of shape \(2, 2\)"),
        (np.ones((2, 2)), {"order": "fro"}, r"normalize: invalid norm order 'fro'"),
    ],
)
def test_normalize_bad_inputs(X: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        normalize(X, **kwargs)


# ----------------------------------------------------------------------------------------- DataLoader


def test_dataloader_batches_in_order() -> None:
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    loader = DataLoader(X, y, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)
    np.testing.assert_array_equal(batches[2][0], [[16, 17], [18, 19]])


def test_dataloader_single_array_still_yields_tuples() -> None:
    (batch,) = next(iter(DataLoader(np.arange(5), batch_size=5)))
    np.testing.assert_array_equal(batch, np.arange(5))


def test_dataloader_drop_last() -> None:
    loader = DataLoader(np.arange(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(np.arange(3), batch_size=4, drop_last=True)) == 0
    assert list(DataLoader(np.arange(3), batch_size=4, drop_last=True)) == []


def test_dataloader_shuffle_keeps_rows_aligned_and_reshuffles_each_epoch() -> None:
    X, y = np.arange(50) * 10, np.arange(50)
    loader = DataLoader(X, y, batch_size=8, shuffle=True, seed=0)
    epochs = []
    for _ in range(2):
        xs, ys = zip(*loader, strict=True)
        xs, ys = np.concatenate(xs), np.concatenate(ys)
        np.testing.assert_array_equal(xs, ys * 10)
        assert sorted(ys.tolist()) == list(range(50))
        epochs.append(ys)
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[0], np.arange(50))


def test_dataloader_is_reproducible_with_a_seed() -> None:
    def two_epochs(seed: int) -> list[list[int]]:
        loader = DataLoader(np.arange(30), batch_size=7, shuffle=True, seed=seed)
        return [b[0].tolist() for _ in range(2) for b in loader]

    assert two_epochs(5) == two_epochs(5)
    assert two_epochs(5) != two_epochs(6)
    # The first epoch is the seed's first permutation.
    first = np.concatenate([b[0] for b in DataLoader(np.arange(30), batch_size=7, shuffle=True, seed=5)])
    np.testing.assert_array_equal(first, np.random.RandomState(5).permutation(30))


def test_dataloader_shuffle_without_seed_leaves_global_state_alone() -> None:
    np.random.seed(0)
    expected = np.random.random_sample()
    np.random.seed(0)
    list(DataLoader(np.arange(10), batch_size=3, shuffle=True))
    assert np.random.random_sample() == expected


def test_dataloader_repr_and_empty() -> None:
    assert "batch_size=2" in repr(DataLoader(np.zeros((4, 1)), batch_size=2))
    empty = DataLoader(np.zeros((0, 3)), batch_size=2)
    assert len(empty) == 0 and list(empty) == []


@pytest.mark.parametrize(
    ("arrays", "kwargs", "match"),
    [
        ((), {"batch_size": 2}, r"DataLoader: at least one array"),
        ((np.zeros(4), np.zeros((3, 2))), {"batch_size": 2}, r"DataLoader: .*\(4,\), \(3, 2\)"),
        ((np.zeros(4),), {"batch_size": 0}, r"DataLoader: batch_size must be a positive int, got 0"),
        ((np.zeros(4),), {"batch_size": 2.5}, r"DataLoader: batch_size must be a positive int"),
        ((np.zeros(4),), {"batch_size": True}, r"DataLoader: batch_size must be a positive int"),
    ],
)
def test_dataloader_bad_inputs(arrays: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DataLoader(*arrays, **kwargs)


def test_dataloader_requires_batch_size() -> None:
    with pytest.raises(TypeError):
        DataLoader(np.zeros(4))  # type: ignore[call-arg]
