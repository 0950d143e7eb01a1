"""Federated learning across the mesh's domains: ``theta = aggregate(theta_1, ..., theta_n)``.

Small modules with one job each:

* :mod:`~meshkit.federation.aggregation` -- the aggregation rules (FedAvg, mean, median, trimmed
  mean, Krum, Multi-Krum, Bulyan), vectorized over the stacked parameters;
* :mod:`~meshkit.federation.strategies` -- server strategies, including the stateful server
  optimizers FedAvgM, FedAdam, FedYogi, FedAdagrad, and FedProx;
* :mod:`~meshkit.federation.models` and :mod:`~meshkit.federation.recommender` -- numpy models
  (logistic and linear regression, an MLP, matrix factorization);
* :mod:`~meshkit.federation.partition`, :mod:`~meshkit.federation.synthetic`,
  :mod:`~meshkit.federation.data` -- splitting data into domains, Synthetic(alpha, beta),
  scenario glue;
* :mod:`~meshkit.federation.rounds` and :mod:`~meshkit.federation.baselines` -- the round loop
  and the centralized / local-only references.
"""

from meshkit.federation.aggregation import METHODS, aggregate, aggregate_matrix, krum_scores, pairwise_sq_distances
from meshkit.federation.baselines import LocalResult, train_centralized, train_local
from meshkit.federation.data import DomainData, domain_datasets, federated_standardize, from_arrays, pool
from meshkit.federation.experiment import Setup, compare_strategies, prepare
from meshkit.federation.metrics import accuracy, hit_rate_ndcg, log_loss, rmse, roc_auc
from meshkit.federation.models import (MODELS, LinearRegression, LogisticRegression, MLPClassifier, Model,
                                       make_model)
from meshkit.federation.partition import dirichlet_partition, iid_partition, natural_partition
from meshkit.federation.privacy import DPFedAvg, clip_updates, dp_epsilon
from meshkit.federation.recommender import MatrixFactorization, leave_one_out
from meshkit.federation.retail import retail_datasets, compare_recommenders
from meshkit.federation.rounds import DomainClient, History, run_federated, weighted_metrics
from meshkit.federation.strategies import (STRATEGIES, Bulyan, FedAdagrad, FedAdam, FedAvg, FedAvgM, FedMedian,
                                           FedProx, FedTrimmedAvg, FedYogi, Krum, Strategy, get_strategy)
from meshkit.federation.synthetic import synthetic

__all__ = [
    "aggregate", "aggregate_matrix", "krum_scores", "pairwise_sq_distances", "METHODS",
    "Strategy", "FedAvg", "FedProx", "FedMedian", "FedTrimmedAvg", "Krum", "Bulyan",
    "FedAvgM", "FedAdam", "FedYogi", "FedAdagrad", "STRATEGIES", "get_strategy",
    "Model", "LogisticRegression", "LinearRegression", "MLPClassifier", "MatrixFactorization",
    "MODELS", "make_model",
    "log_loss", "accuracy", "roc_auc", "rmse", "hit_rate_ndcg",
    "iid_partition", "dirichlet_partition", "natural_partition", "synthetic",
    "DomainData", "domain_datasets", "federated_standardize", "from_arrays", "pool",
    "leave_one_out", "retail_datasets", "compare_recommenders",
    "DomainClient", "History", "run_federated", "weighted_metrics",
    "DPFedAvg", "clip_updates", "dp_epsilon",
    "LocalResult", "train_centralized", "train_local", "Setup", "prepare", "compare_strategies",
]
