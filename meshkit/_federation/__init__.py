"""Federated learning across the mesh's domains: ``theta = aggregate(theta_1, ..., theta_n)``.

Small modules with one job each:

* :mod:`~meshkit._federation.rules` -- the aggregation rules (FedAvg, mean, median, trimmed
  mean, Krum, Multi-Krum, Bulyan), vectorized over the stacked parameters;
* :mod:`~meshkit._federation.strategies` -- server strategies (scikit-learn-style parameters,
  :mod:`~meshkit._federation._base`), including the stateful server optimizers FedAvgM,
  FedAdam, FedYogi, FedAdagrad, and FedProx; ``STRATEGIES``, the one registry of rules;
* :mod:`~meshkit._federation.aggregation` -- :func:`aggregate`, one round by rule name;
* :mod:`~meshkit._federation.models` and :mod:`~meshkit._federation.recommender` -- numpy models
  (logistic and linear regression, an MLP, matrix factorization);
* :mod:`~meshkit._federation.partition`, :mod:`~meshkit._federation.synthetic`,
  :mod:`~meshkit._federation.data` -- splitting data into domains, Synthetic(alpha, beta),
  scenario glue;
* :mod:`~meshkit._federation.privacy`, :mod:`~meshkit._federation.accounting`,
  :mod:`~meshkit._federation.noise` -- differential privacy as a wrapper over any strategy
  (fixed or adaptive clipping), ε from dp-accounting, noise from the OS CSPRNG;
* :mod:`~meshkit._federation.dpsgd` and :mod:`~meshkit._federation.tradeoff` -- record-level
  DP-SGD in the models, and accuracy against ε;
* :mod:`~meshkit._federation.rounds` and :mod:`~meshkit._federation.baselines` -- the round loop
  and the centralized / local-only references;
* :mod:`~meshkit._federation.byzantine` -- simulated Byzantine domains and the table of robust
  rules against attacks;
* :mod:`~meshkit._federation.provenance` -- each round's audit record, saved models verifiable
  against the log;
* :mod:`~meshkit._federation.secagg` -- secure aggregation (Bonawitz et al. 2017 on the SecAgg+
  graph): :class:`SecureAggregation`, ``aggregate(..., secure=True)``, ``run_federated(secure=True)``;
* :mod:`~meshkit._federation.flower` -- the round loop on Flower's Deployment Engine
  (``run_federated(..., engine="flower")``, :class:`LocalFederation`), optional extra ``flower``.
"""

from meshkit._federation._base import Params, clone
from meshkit._federation.aggregation import aggregate
from meshkit._federation.byzantine import (ATTACKS, Attack, Collude, GaussianNoise, LabelFlip, Overflow, Scaling,
                                          SignFlip, robustness_table)
from meshkit._federation.baselines import LocalResult, train_centralized, train_local
from meshkit._federation.flower.deployment import LocalFederation
from meshkit._federation.flower.domain_data import ProductSource
from meshkit._federation.data import DomainData, federated_standardize, from_arrays, pool, training_data
from meshkit._federation.metrics import accuracy, hit_rate_ndcg, log_loss, rmse, roc_auc
from meshkit._federation.models import LinearRegression, LogisticRegression, MLPClassifier, Model
from meshkit._federation.zoo import MODELS, make_model
from meshkit._federation.partition import dirichlet_partition, iid_partition, natural_partition
from meshkit._federation.provenance import load_model, parameters_digest, verify_model
from meshkit._federation.accounting import dp_epsilon, rounds_within_budget
from meshkit._federation.dpsgd import DPSGD
from meshkit._federation.privacy import DPAdaptiveClipping, DPFedAvg, DPFixedClipping, clip_updates
from meshkit._federation.recommender import MatrixFactorization, leave_one_out
from meshkit._federation.rounds import DomainClient, History, run_federated, weighted_metrics
from meshkit._federation.rules import krum_scores, pairwise_sq_distances
from meshkit._federation.secagg import SecAggDomain, SecAggResult, SecAggServer, SecureAggregation, secure_sum
from meshkit._federation.strategies import (STRATEGIES, Bulyan, FedAdagrad, FedAdam, FedAvg, FedAvgM, FedMean,
                                           FedMedian, FedProx, FedTrimmedAvg, FedYogi, Krum, MultiKrum, Strategy,
                                           get_strategy)
from meshkit._federation.synthetic import synthetic
from meshkit._federation.tradeoff import accuracy_against_epsilon

__all__ = [
    "aggregate", "krum_scores", "pairwise_sq_distances", "Params", "clone",
    "Strategy", "FedAvg", "FedMean", "FedProx", "FedMedian", "FedTrimmedAvg", "Krum", "MultiKrum", "Bulyan",
    "FedAvgM", "FedAdam", "FedYogi", "FedAdagrad", "STRATEGIES", "get_strategy",
    "Model", "LogisticRegression", "LinearRegression", "MLPClassifier", "MatrixFactorization",
    "MODELS", "make_model",
    "log_loss", "accuracy", "roc_auc", "rmse", "hit_rate_ndcg",
    "iid_partition", "dirichlet_partition", "natural_partition", "synthetic",
    "DomainData", "federated_standardize", "from_arrays", "pool",
    "leave_one_out",
    "DomainClient", "History", "run_federated", "weighted_metrics",
    "DPFedAvg", "DPFixedClipping", "DPAdaptiveClipping", "clip_updates", "dp_epsilon", "rounds_within_budget",
    "DPSGD", "accuracy_against_epsilon",
    "LocalResult", "train_centralized", "train_local",
    "Attack", "SignFlip", "Scaling", "GaussianNoise", "LabelFlip", "Overflow", "Collude", "ATTACKS",
    "robustness_table", "load_model", "verify_model", "parameters_digest",
    "SecureAggregation", "secure_sum", "SecAggResult", "SecAggServer", "SecAggDomain",
    "LocalFederation", "ProductSource", "training_data",
]
