"""Consistency across domains: ``consistency(D1, D2) = similarity(D1, D2) > θ``.

- :func:`similarity` / :func:`consistency` — the layered comparison (schema, keys, values,
  distributions) with its evidence, an overall weighted score and a threshold sweep;
- :func:`similarity_matrix` — pairwise scores across the products that share an entity;
- :func:`profile`, :class:`Profile` — mergeable sketches, to compare without moving data;
- :func:`sync` — bring a target product in line with a source through Delta MERGE;
- :func:`diff_versions`, :func:`history`, :func:`restore` — versions and recovery;
- :func:`stale_copy` — a seeded copy of a product with named inconsistencies (for teaching
  and testing); :func:`plan_copy` — what to compare and change on a given mesh, with the
  scenario's defaults for every choice left empty.
"""

from meshkit.consistency.inject import INJECTIONS, Injection, copy_contract, fresh_store, stale_copy
from meshkit.consistency.layers import DRIFT_RULES
from meshkit.consistency.matrix import similarity_matrix
from meshkit.consistency.plan import CopyPlan, default_reference, plan_copy
from meshkit.consistency.report import (DEFAULT_WEIGHTS, ConsistencyReport, LayerResult,
                                        SimilarityReport)
from meshkit.consistency.compare import consistency, similarity
from meshkit.consistency.sketches import Profile, profile, profile_parquet, similarity_from_profiles
from meshkit.consistency.sync import POLICIES, SyncResult, sync
from meshkit.consistency.versions import VersionDiff, diff_versions, history, restore

__all__ = [
    "similarity", "consistency", "SimilarityReport", "ConsistencyReport", "LayerResult",
    "DEFAULT_WEIGHTS", "DRIFT_RULES", "similarity_matrix",
    "Profile", "profile", "profile_parquet", "similarity_from_profiles",
    "sync", "SyncResult", "POLICIES",
    "diff_versions", "VersionDiff", "history", "restore",
    "stale_copy", "Injection", "INJECTIONS", "copy_contract", "fresh_store",
    "plan_copy", "CopyPlan", "default_reference",
]

