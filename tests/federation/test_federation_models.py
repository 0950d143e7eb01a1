"""Local models: gradients, training, FedProx's proximal term, metrics, matrix factorization."""

from __future__ import annotations

import numpy as np
import pytest

from meshkit import FederationError
from meshkit import LinearRegression, LogisticRegression, MatrixFactorization, MLPClassifier, hit_rate_ndcg, leave_one_out, log_loss, make_model, roc_auc


def _loss(model, X, y):
    if isinstance(model, LinearRegression):
        return 0.5 * np.mean((model.predict(X) - y) ** 2)
    return log_loss(model.predict_proba(X), y)


@pytest.mark.parametrize("model", [LogisticRegression(n_classes=3), MLPClassifier(hidden=5, n_classes=3),
                                   LinearRegression()])
def test_gradients_match_finite_differences(model):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 4))
    y = rng.normal(size=12) if isinstance(model, LinearRegression) else rng.integers(0, 3, 12)
    model.init_parameters(4, 3)
    model.set_parameters([p + rng.normal(0, 0.3, p.shape) for p in model.get_parameters()])
    grads = model._gradients(X, y)
    eps = 1e-6
    for k, p in enumerate(model.params_):
        flat = p.reshape(-1)
        for j in range(0, flat.size, max(1, flat.size // 5)):
            old = flat[j]
            flat[j] = old + eps
            up = _loss(model, X, y)
            flat[j] = old - eps
            down = _loss(model, X, y)
            flat[j] = old
            np.testing.assert_allclose(grads[k].reshape(-1)[j], (up - down) / (2 * eps), rtol=1e-4, atol=1e-7)


def test_logistic_regression_learns_a_multiclass_problem():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 5))
    y = np.argmax(X @ rng.normal(size=(5, 4)), axis=1)
    model = LogisticRegression(lr=0.5, epochs=20)
    assert model.fit(X, y) is model
    assert model.coef_.shape == (5, 4) and model.intercept_.shape == (4,)
    metrics = model.evaluate(X, y)
    assert metrics["accuracy"] > 0.9 and "auc" not in metrics


def test_binary_metrics_agree_with_scikit_learn():
    import sklearn.metrics as sk_metrics
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.normal(0, 1, 300) > 0).astype(int)
    model = LogisticRegression(lr=0.2, epochs=5).fit(X, y)
    proba = model.predict_proba(X)
    m = model.evaluate(X, y)
    assert m["auc"] == pytest.approx(sk_metrics.roc_auc_score(y, proba[:, 1]))
    assert m["log_loss"] == pytest.approx(sk_metrics.log_loss(y, proba))
    assert m["accuracy"] == pytest.approx(sk_metrics.accuracy_score(y, proba.argmax(1)))


def test_roc_auc_with_ties_and_one_class():
    assert roc_auc(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5
    assert np.isnan(roc_auc(np.array([0.1, 0.2]), np.array([1, 1])))


def test_mlp_solves_xor_where_a_linear_model_cannot():
    X = np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]] * 50)
    y = np.array([0, 1, 1, 0] * 50)
    assert MLPClassifier(hidden=16, lr=0.2, epochs=300, seed=1).fit(X, y).evaluate(X, y)["accuracy"] == 1.0
    assert LogisticRegression(lr=0.2, epochs=300).fit(X, y).evaluate(X, y)["accuracy"] <= 0.75


def test_linear_regression_recovers_coefficients():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 3.0 + rng.normal(0, 0.01, 500)
    model = LinearRegression(lr=0.1, epochs=30).fit(X, y)
    np.testing.assert_allclose(model.params_[0], [1.0, -2.0, 0.5], atol=0.02)
    assert model.evaluate(X, y)["rmse"] < 0.05


def test_proximal_term_keeps_local_model_near_the_anchor():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] > 0).astype(int)
    anchor = [np.zeros((4, 2)), np.zeros(2)]
    drift = {}
    for mu in (0.0, 1.0, 10.0):
        m = LogisticRegression(lr=0.1, epochs=5, n_classes=2).set_parameters(anchor)
        m.fit(X, y, anchor=anchor, mu=mu)
        drift[mu] = sum(np.sum((p - a) ** 2) for p, a in zip(m.get_parameters(), anchor))
    assert drift[0.0] > drift[1.0] > drift[10.0] > 0


def test_training_is_deterministic_for_a_seed():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(100, 3)), rng.integers(0, 2, 100)
    a = MLPClassifier(seed=7, epochs=2).fit(X, y).get_parameters()
    b = MLPClassifier(seed=7, epochs=2).fit(X, y).get_parameters()
    c = MLPClassifier(seed=8, epochs=2).fit(X, y).get_parameters()
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c))


def test_parameter_errors():
    m = LogisticRegression().init_parameters(3, 2)
    with pytest.raises(FederationError, match="shape"):
        m.set_parameters([np.zeros((2, 2)), np.zeros(2)])
    with pytest.raises(FederationError, match="number"):
        m.set_parameters([np.zeros((3, 2))])
    with pytest.raises(FederationError, match="no parameters"):
        LogisticRegression().get_parameters()
    with pytest.raises(FederationError):
        LogisticRegression().fit(np.zeros(3), np.zeros(3))
    with pytest.raises(FederationError, match="unknown model"):
        make_model("cnn")


def test_hit_rate_and_ndcg_by_hand():
    scores = np.array([[5.0, 1, 2, 3], [1.0, 5, 4, 3], [2.0, 1, 3, 0]])  # ranks 0, 3, 1
    hr, ndcg = hit_rate_ndcg(scores, k=2)
    assert hr == pytest.approx(2 / 3)
    assert ndcg == pytest.approx((1.0 + 1 / np.log2(3)) / 3)


def test_leave_one_out_holds_out_one_unseen_item_per_user():
    rng = np.random.default_rng(6)
    pairs = np.column_stack([rng.integers(0, 30, 400), rng.integers(0, 50, 400)])
    train, test, neg = leave_one_out(pairs, 50, n_negatives=20, seed=1)
    unique = np.unique(pairs, axis=0)
    assert len(train) + len(test) == len(unique)
    assert len(np.unique(test[:, 0])) == len(test)
    seen = {(u, i) for u, i in unique}
    assert not any((u, i) in seen for u, row in zip(test[:, 0], neg) for i in row)
    again = leave_one_out(pairs, 50, n_negatives=20, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((train, test, neg), again))


def test_matrix_factorization_beats_chance_on_clustered_preferences():
    rng = np.random.default_rng(7)
    n_users, n_items = 200, 100
    group = rng.integers(0, 4, n_users)  # users of group g like items 25g..25g+24
    users = np.repeat(np.arange(n_users), 12)
    items = group[users] * 25 + rng.integers(0, 25, users.size)
    train, test, neg = leave_one_out(np.column_stack([users, items]), n_items, seed=0)
    mf = MatrixFactorization(n_items=n_items, n_users=n_users, factors=8, lr=0.1, epochs=15, seed=0)
    mf.fit(train)
    shared = mf.get_parameters()
    assert [p.shape for p in shared] == [(n_items, 8), (n_items,)]
    assert mf.user_factors_.shape == (n_users, 8)
    metrics = mf.evaluate(test, neg)
    assert metrics["hr@10"] > 0.4  # chance is 10 / 100
    assert 0 < metrics["ndcg@10"] <= metrics["hr@10"]


def test_matrix_factorization_refuses_bad_interactions():
    mf = MatrixFactorization(n_items=5)
    with pytest.raises(FederationError, match="pairs"):
        mf.fit(np.zeros((3, 2)))
    with pytest.raises(FederationError, match="out of range"):
        mf.fit(np.array([[0, 7]]))
