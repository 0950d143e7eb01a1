"""meshkit: data mesh made real and teachable.

Domains own their data as products; consumers use them without a central team; the mesh
learns and checks across domains without pooling raw data. Three formulas are the heart of
the public API::

    import meshkit as mk
    theta = mk.aggregate(thetas, weights=n_examples, method="fedavg")  # federation
    report = mk.consistency(d1, d2, threshold=0.8)                     # consistency
    decision = mk.security(product, token, action="read")             # security

The public API is flat, as in httpx: every public class and function is ``meshkit.<name>``
and listed once in ``__all__`` below, grouped by the private package that defines it
(``meshkit._federation``, ``meshkit._consistency``, ``meshkit._security``...). Those packages
are the implementation; import from ``meshkit``. Public sub-packages are the layers beside
or above the library: :mod:`meshkit.scenarios` (embedded meshes), :mod:`meshkit.viz`
(figures) and :mod:`meshkit.tutorial` (what only the notebooks need).

``import meshkit`` loads nothing but this file and the error tree: each name is imported on
first use (PEP 562), so scipy, matplotlib, deltalake and the Jupyter stack load only when a
name that needs them is used.
"""

from __future__ import annotations

from importlib import import_module

from meshkit._errors import MeshkitError

__version__ = "0.1.0"

#: private module -> the public names it defines, in the order they are documented
_EXPORTS: dict[str, tuple[str, ...]] = {
    # errors: one tree, rooted at MeshkitError
    "meshkit._errors": (
        "MeshkitError", "SpecError", "ContractError", "DataError", "QualityError",
        "StoreError", "ConcurrentWriteError", "FederationError", "NotEnoughDomainsError",
        "PrivacyBudgetError", "ConsistencyError", "SyncConflictError", "SecurityError",
        "AuthenticationError", "AuthorizationError", "IntegrityError", "PolicyError",
        "RunError", "ParameterError",
    ),
    # display: the one renderer of every report, also for plain frames
    "meshkit._display": (
        "table",
    ),
    # the mesh and its products
    "meshkit._mesh": (
        "Mesh", "Domain", "DataProduct", "SPEC_FILE", "SPEC_API_VERSION", "SOURCE_FORMATS",
        "Task", "InteractionSource", "Interactions", "Entity", "Access", "TASK_KINDS",
    ),
    # data contracts (ODCS) and their validation
    "meshkit._contracts": (
        "DataContract", "ContractProperty", "QualityRule", "SchemaObject", "Relationship",
        "check_relationships", "QualityReport", "CheckResult", "validate", "infer_contract",
        "LOGICAL_TYPES", "METRICS", "OPERATORS", "dtype_matches",
    ),
    # products as versioned Delta tables
    "meshkit._store": (
        "ProductStore", "Publication",
    ),
    # federation: θ = aggregate(θ₁, …, θₙ)
    "meshkit._federation": (
        "aggregate", "krum_scores", "pairwise_sq_distances", "Params", "clone", "Strategy",
        "FedAvg", "FedMean", "FedProx", "FedMedian", "FedTrimmedAvg", "Krum", "MultiKrum",
        "Bulyan", "FedAvgM", "FedAdam", "FedYogi", "FedAdagrad", "STRATEGIES",
        "get_strategy", "Model", "LogisticRegression", "LinearRegression", "MLPClassifier",
        "MatrixFactorization", "MODELS", "make_model", "log_loss", "accuracy", "roc_auc",
        "rmse", "hit_rate_ndcg", "iid_partition", "dirichlet_partition",
        "natural_partition", "synthetic", "DomainData", "federated_standardize",
        "from_arrays", "pool", "leave_one_out", "DomainClient", "History", "run_federated",
        "weighted_metrics", "DPFedAvg", "DPFixedClipping", "DPAdaptiveClipping",
        "clip_updates", "dp_epsilon", "rounds_within_budget", "DPSGD",
        "accuracy_against_epsilon", "LocalResult", "train_centralized", "train_local",
        "Attack", "SignFlip", "Scaling", "GaussianNoise", "LabelFlip", "Overflow",
        "Collude", "ATTACKS", "robustness_table", "load_model", "verify_model",
        "parameters_digest", "SecureAggregation", "secure_sum", "SecAggResult",
        "SecAggServer", "SecAggDomain", "LocalFederation", "ProductSource",
        "training_data",
    ),
    # consistency(D₁, D₂) = similarity(D₁, D₂) > θ
    "meshkit._consistency": (
        "similarity", "consistency", "SimilarityReport", "ConsistencyReport", "LayerResult",
        "DEFAULT_LAYER_WEIGHTS", "DRIFT_RULES", "similarity_matrix", "Profile", "profile",
        "profile_parquet", "similarity_from_profiles", "SharingPolicy", "sync",
        "SyncResult", "POLICIES", "diff_versions", "VersionDiff",
    ),
    # security(D) = encryption(D) ∩ authentication(U) ∩ authorization(U, D)
    "meshkit._security": (
        "security", "Decision", "Layer", "SecurityModel", "use_model", "SecureStore",
        "SecurePublication", "Keyset", "WrappedKey", "SystemKeySource", "SeededKeySource",
        "encrypt_file", "decrypt_file", "encrypt_bytes", "decrypt_bytes", "new_data_key",
        "Envelope", "product_context", "schema_hash", "protect_frame", "unprotect_frame",
        "Principal", "Identity", "PublicIdentity", "Directory", "TokenVerifier", "Policy",
        "Grant", "Deny", "AccessRequest", "AccessResult", "ProductInfo", "apply_access",
        "parse_row_filter", "check_row_filter", "AuditLog", "Checkpoint",
        "AuditVerification", "Witness", "verify_log", "leaf_hash", "merkle_root",
        "inclusion_proof", "consistency_proof", "verify_inclusion", "verify_consistency",
        "PostureReport", "posture", "export_domain_home", "open_domain_home",
        "new_master_key", "read_master_key", "TRAINING_PURPOSE",
    ),
}

_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["__version__", *_MODULE_OF]


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'meshkit' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
