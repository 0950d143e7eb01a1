"""Security for the mesh: ``security(D) = encryption(D) ∩ authentication(U) ∩ authorization(U, D)``.

Small modules, one job each:

=============  ==========================================================================
``keys``       domain keysets (primary + older keys), rotation, sealing, demo key sources
``encrypted_parquet``  the store's data files: Parquet Modular Encryption, keys wrapped by
               a keyset through meshkit's KMS client, metadata bound in the footer
``streaming``  Cobblestone-128 streaming AEAD over files (flat memory; not used by the store)
``envelope``   per-version data keys, contexts binding domain|product|version|schema hash
``columns``    PII column protection: AES-SIV tokens (joinable) or AES-GCM values
``tokens``     principals, Ed25519 identities, JWTs pinned to ``alg: Ed25519``
``policy``     grants, denies, access requests; masks and row filters on polars frames
``audit``      RFC 6962 Merkle log, Ed25519-signed checkpoints, inclusion/consistency proofs,
               several writers under a file lock, witnesses that catch a log cut back
``model``      the :class:`Decision` and :func:`security`
``store``      :class:`SecureStore`: one encrypted Delta table per product, read only
               through decisions
``posture``    the per-domain posture report
``domain_home`` a domain's governance on its own machine (sealed under its master key)
=============  ==========================================================================

Production code draws every key from ``os.urandom``; pass a :class:`SeededKeySource` only for
reproducible notebooks and tests (anyone who knows the seed knows the keys).
"""

from meshkit._security.audit import (AuditLog, AuditVerification, Checkpoint, Witness,
                                    consistency_proof, inclusion_proof, leaf_hash, merkle_root,
                                    verify_consistency, verify_inclusion, verify_log)
from meshkit._security.columns import protect_frame, unprotect_frame
from meshkit._security.domain_home import (TRAINING_PURPOSE, export_domain_home, new_master_key, open_domain_home,
                                          read_master_key)
from meshkit._security.envelope import Envelope, product_context, schema_hash
from meshkit._security.keys import Keyset, SeededKeySource, SystemKeySource, WrappedKey
from meshkit._security.model import Decision, Layer, SecurityModel, security, use_model
from meshkit._security.policy import (AccessRequest, AccessResult, Deny, Grant, Policy,
                                     ProductInfo, apply_access, check_row_filter,
                                     parse_row_filter)
from meshkit._security.posture import PostureReport, posture
from meshkit._security.store import SecurePublication, SecureStore
from meshkit._security.streaming import (decrypt_bytes, decrypt_file, encrypt_bytes,
                                        encrypt_file, new_data_key)
from meshkit._security.tokens import (Directory, Identity, Principal, PublicIdentity,
                                     TokenVerifier)

__all__ = [
    "security", "Decision", "Layer", "SecurityModel", "use_model",
    "SecureStore", "SecurePublication",
    "Keyset", "WrappedKey", "SystemKeySource", "SeededKeySource",
    "encrypt_file", "decrypt_file", "encrypt_bytes", "decrypt_bytes", "new_data_key",
    "Envelope", "product_context", "schema_hash",
    "protect_frame", "unprotect_frame",
    "Principal", "Identity", "PublicIdentity", "Directory", "TokenVerifier",
    "Policy", "Grant", "Deny", "AccessRequest", "AccessResult", "ProductInfo",
    "apply_access", "parse_row_filter", "check_row_filter",
    "AuditLog", "Checkpoint", "AuditVerification", "Witness", "verify_log", "leaf_hash", "merkle_root",
    "inclusion_proof", "consistency_proof", "verify_inclusion", "verify_consistency",
    "PostureReport", "posture",
    "export_domain_home", "open_domain_home", "new_master_key", "read_master_key",
    "TRAINING_PURPOSE",
]
