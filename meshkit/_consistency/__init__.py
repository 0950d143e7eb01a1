"""Consistency across domains: ``consistency(D1, D2) = similarity(D1, D2) > θ``.

- :func:`similarity` / :func:`consistency` — the layered comparison (schema, keys, values,
  distributions) with its evidence, an overall weighted score and a threshold sweep;
- :func:`similarity_matrix` — pairwise scores across the products that share an entity;
- :func:`profile`, :class:`Profile` — mergeable sketches, to compare without moving data;
- :class:`SharingPolicy` — what a domain's profiles may reveal (minimum counts, clipping, DP);
- :func:`sync` — bring a target product in line with a source through Delta MERGE;
- :func:`diff_versions` — what changed between two versions, by key (a product's history
  and restore are :class:`~meshkit._store.ProductStore`'s);
"""

from meshkit._consistency.layers import DRIFT_RULES
from meshkit._consistency.matrix import similarity_matrix
from meshkit._consistency.report import (DEFAULT_LAYER_WEIGHTS, ConsistencyReport,
                                        LayerResult, SimilarityReport)
from meshkit._consistency.compare import consistency, similarity
from meshkit._consistency.sharing import SharingPolicy
from meshkit._consistency.sketches import Profile, profile, profile_parquet, similarity_from_profiles
from meshkit._consistency.sync import POLICIES, SyncResult, sync
from meshkit._consistency.versions import VersionDiff, diff_versions

__all__ = [
    "similarity", "consistency", "SimilarityReport", "ConsistencyReport", "LayerResult",
    "DEFAULT_LAYER_WEIGHTS", "DRIFT_RULES", "similarity_matrix",
    "Profile", "profile", "profile_parquet", "similarity_from_profiles", "SharingPolicy",
    "sync", "SyncResult", "POLICIES",
    "diff_versions", "VersionDiff",
]

