"""Record-level privacy: DP-SGD in the numpy models, ε per domain from dp-accounting, accuracy
against ε, and the models' scikit-learn conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from meshkit import (DPSGD, FederationError, LinearRegression, LogisticRegression, MLPClassifier,
                     accuracy_against_epsilon, dp_epsilon, from_arrays)
from meshkit._federation._base import clone
from meshkit._federation.dpsgd import ledger_epsilon, per_example_clipped_sum
from meshkit._federation.noise import gaussian_noise

MODELS = [LogisticRegression(n_classes=3), MLPClassifier(hidden=6, n_classes=3), LinearRegression()]


def _data(model, n=40, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 5.0, size=(n, 1))  # varied example norms
    y = rng.normal(size=n) if isinstance(model, LinearRegression) else rng.integers(0, 3, n)
    model.init_parameters(d, 3)
    model.set_parameters([p + rng.normal(0, 0.3, p.shape) for p in model.get_parameters()])
    return X, y


def _eps_reference(z, q, steps, delta):
    from dp_accounting import dp_event
    from dp_accounting.rdp import rdp_privacy_accountant

    acc = rdp_privacy_accountant.RdpAccountant()
    acc.compose(dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(z)), steps)
    return acc.get_epsilon(delta)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_vectorized_clipping_equals_clipping_each_example_alone(model):
    model = clone(model)
    X, y = _data(model)
    C = 0.8
    expected = [np.zeros_like(p) for p in model.params_]
    norms = []
    for i in range(len(X)):  # the example's gradient on its own (validated by finite differences)
        g = model._gradients(X[i:i + 1], y[i:i + 1])
        norm = math.sqrt(sum(float(np.sum(a * a)) for a in g))
        norms.append(norm)
        for e, a in zip(expected, g):
            e += a * min(1.0, C / norm)
    sums, got_norms = per_example_clipped_sum(model._factors(X, y), C)
    np.testing.assert_allclose(got_norms, norms, rtol=1e-10)
    assert (np.array(norms) > C).any() and (np.array(norms) < C).any()  # both cases exercised
    for s, e in zip(sums, expected):
        np.testing.assert_allclose(s, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_a_dp_sgd_step_is_clip_sum_noise_over_the_batch_size(model):
    model = clone(model).set_params(batch_size=40, lr=0.1, epochs=1,
                                    dp=DPSGD(clip_norm=0.5, noise_multiplier=1.3, seed=11))
    X, y = _data(model)
    start = model.get_parameters()
    sums, _ = per_example_clipped_sum(model._factors(X, y), 0.5)
    flat = gaussian_noise(sum(s.size for s in sums), 1.3 * 0.5, seed=11, stream=(0,))  # one draw per step
    bounds = np.cumsum([0] + [s.size for s in sums])
    noise = [flat[a:b].reshape(s.shape) for a, b, s in zip(bounds[:-1], bounds[1:], sums)]
    model.rng_ = np.random.default_rng(0)
    model.fit(X, y)
    for p0, p, s, z in zip(start, model.get_parameters(), sums, noise):
        np.testing.assert_allclose(p, p0 - 0.1 * (s + z) / 40, rtol=1e-10, atol=1e-12)


def test_dp_sgd_noise_is_calibrated_and_private_by_default():
    d, B = 50_000, 10
    dp = DPSGD(clip_norm=2.0, noise_multiplier=1.5)
    factors = [(np.zeros((B, d)), np.zeros((B, 1)))]  # zero gradients: the step is pure noise
    step = dp.privatize(factors, B)[0]
    assert step.std() == pytest.approx(1.5 * 2.0 / B, rel=0.03)
    assert not np.array_equal(step, dp.privatize(factors, B)[0])
    seeded = DPSGD(clip_norm=2.0, noise_multiplier=1.5, seed=3)
    np.testing.assert_array_equal(seeded.privatize(factors, B, (1,))[0], seeded.privatize(factors, B, (1,))[0])
    assert "NOT PRIVATE" in repr(seeded) and "NOT PRIVATE" in repr(LogisticRegression(dp=seeded))
    assert "NOT PRIVATE" not in repr(dp) and dp.noise == "os.urandom + ChaCha20 (CSPRNG)"


def test_without_noise_and_with_a_loose_clip_dp_sgd_is_plain_sgd():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(64, 3)), rng.integers(0, 2, 64)
    plain = MLPClassifier(hidden=5, seed=4, epochs=3, batch_size=16).fit(X, y)
    private = MLPClassifier(hidden=5, seed=4, epochs=3, batch_size=16,
                            dp=DPSGD(clip_norm=1e6, noise_multiplier=0.0)).fit(X, y)
    for a, b in zip(plain.get_parameters(), private.get_parameters()):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_two_dp_sgd_fits_with_default_arguments_add_different_noise():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(50, 3)), rng.integers(0, 2, 50)
    a, b = (LogisticRegression(seed=1, dp=DPSGD()).fit(X, y).get_parameters()[0] for _ in range(2))
    assert not np.array_equal(a, b)
    c, d = (LogisticRegression(seed=1, dp=DPSGD(seed=9)).fit(X, y).get_parameters()[0] for _ in range(2))
    np.testing.assert_array_equal(c, d)


def test_epsilon_per_domain_equals_dp_accounting_for_its_rate_and_steps():
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(250, 3)), rng.integers(0, 2, 250)
    m = LogisticRegression(batch_size=25, epochs=3, dp=DPSGD(noise_multiplier=1.1, delta=1e-6))
    assert m.epsilon() == 0.0  # nothing trained yet
    m.fit(X, y)
    assert m.dp_ledger_ == [(1.1, 0.1, 30)]
    assert m.epsilon() == _eps_reference(1.1, 0.1, 30, 1e-6)
    m.fit(X, y, epochs=2)  # a second local round composes with the first
    assert m.epsilon() == _eps_reference(1.1, 0.1, 50, 1e-6)
    assert m.epsilon(delta=1e-5) == _eps_reference(1.1, 0.1, 50, 1e-5)
    # a last, smaller batch is still a step
    m2 = LogisticRegression(batch_size=40, dp=DPSGD(noise_multiplier=1.1)).fit(X, y)
    assert m2.dp_ledger_ == [(1.1, 40 / 250, 7)]
    assert LogisticRegression().fit(X, y).epsilon() == float("inf")


def test_a_ledger_of_different_runs_composes_in_one_accountant():
    from dp_accounting import dp_event
    from dp_accounting.rdp import rdp_privacy_accountant

    acc = rdp_privacy_accountant.RdpAccountant()
    acc.compose(dp_event.PoissonSampledDpEvent(0.1, dp_event.GaussianDpEvent(1.0)), 20)
    acc.compose(dp_event.PoissonSampledDpEvent(0.05, dp_event.GaussianDpEvent(2.0)), 40)
    assert ledger_epsilon([(1.0, 0.1, 20), (2.0, 0.05, 40)], 1e-5) == acc.get_epsilon(1e-5)
    assert ledger_epsilon([(1.0, 0.1, 5), (1.0, 0.1, 15)], 1e-5) == dp_epsilon(1.0, 0.1, 20)


@pytest.mark.parametrize("bad, name", [
    (DPSGD(clip_norm=float("inf")), "clip_norm"), (DPSGD(clip_norm=0.0), "clip_norm"),
    (DPSGD(noise_multiplier=-1.0), "noise_multiplier"), (DPSGD(noise_multiplier=float("nan")), "noise_multiplier"),
    (DPSGD(delta=1.0), "delta"), (DPSGD(seed=-2), "seed"), ("yes", "dp"),
])
def test_nonsense_dp_sgd_settings_are_refused_before_training(bad, name):
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(20, 2)), rng.integers(0, 2, 20)
    model = LogisticRegression(dp=bad)  # stored as given ...
    with pytest.raises(FederationError, match=name):  # ... refused at use, nothing trained
        model.fit(X, y)
    assert not hasattr(model, "params_")


@pytest.mark.parametrize("params, name", [({"lr": -1.0}, "lr"), ({"lr": float("inf")}, "lr"),
                                          ({"batch_size": 0}, "batch_size"), ({"epochs": 1.5}, "epochs"),
                                          ({"mu": -0.1}, "mu"), ({"seed": None}, "seed")])
def test_bad_hyper_parameters_are_refused_at_use(params, name):
    model = MLPClassifier(**params)
    with pytest.raises(FederationError, match=name):
        model.fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]))


def test_models_follow_scikit_learn_conventions():
    m = MLPClassifier(hidden=8, lr=0.2, dp=DPSGD(noise_multiplier=0.7))
    assert list(m.get_params()) == ["hidden", "n_classes", "lr", "epochs", "batch_size", "mu", "seed", "dp"]
    assert m.get_params(deep=True)["dp__noise_multiplier"] == 0.7
    assert repr(m).startswith("MLPClassifier(hidden=8, n_classes=None, lr=0.2,")
    rng = np.random.default_rng(6)
    m.fit(rng.normal(size=(30, 2)), rng.integers(0, 2, 30))
    c = clone(m)
    assert c.get_params(deep=True) == {**m.get_params(deep=True), "dp": c.dp}
    assert c.dp is not m.dp and not hasattr(c, "params_") and not hasattr(c, "dp_ledger_")
    assert m.set_params(lr=0.01, dp__clip_norm=3.0) is m and m.lr == 0.01 and m.dp.clip_norm == 3.0
    with pytest.raises(FederationError, match="unknown parameter"):
        m.set_params(learning_rate=0.1)


def _domains(seed=0):
    rng = np.random.default_rng(seed)
    parts = []
    for n in (300, 600):
        X = rng.normal(size=(n, 3))
        parts.append((X, (X[:, 0] - X[:, 1] > 0).astype(int)))
    return from_arrays(parts, seed=seed)


def test_accuracy_against_epsilon_rows():
    data = _domains()
    rows = accuracy_against_epsilon(LogisticRegression(lr=0.5, batch_size=30), data, [0.0, 0.8, 4.0],
                                    clip_norm=1.0, rounds=4, local_epochs=1, seed=0)
    assert [r["noise_multiplier"] for r in rows] == [0.0, 0.8, 4.0]
    assert rows[0]["epsilon_max"] == float("inf") and rows[0]["noise"] == "none"
    # each domain: 4 rounds x ceil(n_train / 30) steps at rate 30 / n_train; the smaller domain spends more
    per_domain = [_eps_reference(z, 30 / d.n_train, 4 * math.ceil(d.n_train / 30), 1e-5)
                  for d in data.values() for z in (0.8,)]
    assert rows[1]["epsilon_max"] == pytest.approx(max(per_domain))
    assert rows[1]["epsilon_min"] == pytest.approx(min(per_domain)) and rows[1]["epsilon_min"] < rows[1]["epsilon_max"]
    assert rows[0]["epsilon_max"] > rows[1]["epsilon_max"] > rows[2]["epsilon_max"]
    assert rows[0]["accuracy"] > 0.9 and rows[1]["accuracy"] > 0.75
    assert all(r["noise"] == "os.urandom + ChaCha20 (CSPRNG)" for r in rows[1:])
    seeded = accuracy_against_epsilon(LogisticRegression(lr=0.5, batch_size=30), data, [0.8], rounds=1, dp_seed=3)
    assert "NOT PRIVATE" in seeded[0]["noise"]
    with pytest.raises(FederationError, match="clip_norm"):
        accuracy_against_epsilon(LogisticRegression(), data, [1.0], clip_norm=float("inf"))
