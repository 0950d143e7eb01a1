"""A domain's governance on its own machine: what a process there needs to read its products
through the governed path.

A domain that trains on its own machine (a Flower SuperNode next to its data) reads its
product with :meth:`SecureStore.read` like any reader. Its process therefore needs the
domain's side of the :class:`~meshkit._security.model.SecurityModel`: the products, the
policy (grants, masks, row filters), the principal directory (public keys only), the
domain's keyset and an audit log of its own. :func:`export_domain_home` writes them into a
folder (``governance.json``); :func:`open_domain_home` rebuilds the store from it.

Nothing there is readable without the domain's **master key**: the keyset is sealed under
it (:meth:`Keyset.seal`, AES-256-GCM) and so is the private key that signs the home's audit
checkpoints. The master key lives in a file of its own, readable by its owner only, kept
apart from the home (in production it comes from the domain's KMS). Keys are drawn from
``os.urandom``; nothing here takes a seed.

What decides access stays with the domain: the policy and directory come from the home, the
purpose of a read from the reader's signed token, the time from the process's clock.

Examples
--------
>>> import tempfile, polars as pl
>>> from pathlib import Path
>>> from meshkit._security.tokens import Identity, Principal
>>> from meshkit._security.policy import ProductInfo
>>> from meshkit._security.model import SecurityModel
>>> from meshkit._security.store import SecureStore
>>> tmp = Path(tempfile.mkdtemp())
>>> info = ProductInfo("customers", "crm", owner="cleo", columns=("id",))
>>> cleo = Identity.generate(Principal("cleo", domain="crm"))
>>> store = SecureStore(tmp / "store", SecurityModel.build([info], identities=[cleo]))
>>> _ = store.publish("customers", pl.DataFrame({"id": [1, 2]}), cleo)
>>> key = new_master_key(tmp / "master.key")
>>> home = export_domain_home(store, "crm", tmp / "home", master_key=key)
>>> open_domain_home(home, tmp / "master.key").read("customers", cleo)["id"].to_list()
[1, 2]
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from meshkit._errors import IntegrityError, SecurityError
from meshkit._files import atomic_write_text
from meshkit._security.audit import AuditLog
from meshkit._security.keys import Keyset
from meshkit._security.model import SecurityModel
from meshkit._security.policy import Policy, ProductInfo
from meshkit._security.store import SecureStore
from meshkit._security.tokens import Directory, Identity, Principal, PublicIdentity, public_key_from_bytes

__all__ = ["export_domain_home", "open_domain_home", "new_master_key", "read_master_key", "TRAINING_PURPOSE"]

#: the purpose a domain's training service states in its token, and its grant requires
TRAINING_PURPOSE = "federated training"

_FORMAT = "meshkit-domain-home-v1"
_FILE = "governance.json"


def new_master_key(path) -> bytes:
    """A new 32-byte master key from ``os.urandom``, written (hex) to ``path`` readable by
    its owner only; returns the key. An existing file is never overwritten."""
    path = Path(path)
    key = os.urandom(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SecurityError("a master key file is already there; refusing to replace it",
                            where=str(path.name), expected="a new path", found="an existing file") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex())
    return key


def read_master_key(path) -> bytes:
    """The 32-byte master key in ``path``; :class:`SecurityError` when the file is missing,
    malformed, or readable by anyone but its owner."""
    path = Path(path)
    where = f"master key file {path.name!r}"
    try:
        mode = path.stat().st_mode
        text = path.read_text().strip()
    except OSError as exc:
        raise SecurityError("cannot read the master key", where=where, expected="a readable file",
                            found=type(exc).__name__) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecurityError("the master key file is open to others", where=where,
                            expected="permissions 0600 (owner only)", found=oct(stat.S_IMODE(mode)))
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise SecurityError("malformed master key", where=where, expected="64 hex digits (32 bytes)",
                            found=f"{len(text)} characters")
    return key


def _seal(master: bytes, plain: bytes, aad: bytes) -> dict:
    nonce = os.urandom(12)
    return {"nonce": base64.b64encode(nonce).decode(),
            "sealed": base64.b64encode(AESGCM(master).encrypt(nonce, plain, aad)).decode()}


def _unseal(master: bytes, sealed: dict, aad: bytes, where: str) -> bytes:
    try:
        return AESGCM(master).decrypt(base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["sealed"]), aad)
    except (InvalidTag, KeyError, TypeError, ValueError):
        raise IntegrityError("sealed secret does not open (wrong master key, or altered)", where=where,
                             expected="the master key it was sealed with", found="authentication failure") from None


def _principal(p: Principal) -> dict:
    return {"name": p.name, "kind": p.kind, "domain": p.domain, "roles": list(p.roles)}


def export_domain_home(store: SecureStore, domain: str, folder, *, master_key: bytes) -> Path:
    """Write ``domain``'s governance into ``folder`` for a process on the domain's machine.

    Parameters
    ----------
    store : SecureStore
        The governed store holding the domain's products (its root is recorded: the
        process reads the tables there).
    domain : str
    folder : path
        Gets ``governance.json`` and, once read through, the home's audit log.
    master_key : bytes
        32 bytes (:func:`new_master_key`); seals the domain's keyset and the audit signer.

    Returns
    -------
    Path
        ``folder``.
    """
    model = store.model
    if domain not in model.keysets:
        raise SecurityError("no keyset for the domain", where=f"domain {domain!r}",
                            expected=f"one of {sorted(model.keysets)}", found=repr(domain))
    if not isinstance(master_key, (bytes, bytearray)) or len(master_key) != 32:
        raise SecurityError("master key must be 32 bytes", where="export_domain_home",
                            expected="32 bytes (new_master_key)", found=type(master_key).__name__)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    signer = Ed25519PrivateKey.generate()  # the home's own audit key (os.urandom)
    aad = f"{_FORMAT}|{domain}".encode()
    doc = {
        "format": _FORMAT, "domain": domain, "store": str(Path(store.root).resolve()),
        "audience": model.audience,
        "products": [{"name": i.name, "domain": i.domain, "owner": i.owner, "columns": list(i.columns),
                      "pii_columns": list(i.pii_columns), "types": [list(t) for t in i.types]}
                     for i in model.products.values()],
        "policy": model.policy.to_dict(),
        "directory": [{**_principal(e.principal), "public_key": e.public_bytes.hex()} for e in model.directory],
        "deterministic": sorted(store.deterministic),
        "keyset": model.keysets[domain].seal(bytes(master_key)),
        "audit_signer": _seal(bytes(master_key), signer.private_bytes_raw(), aad),
    }
    atomic_write_text(folder / _FILE, json.dumps(doc, indent=1))
    return folder


def open_domain_home(folder, master_key_file) -> SecureStore:
    """The domain's governed store, rebuilt from :func:`export_domain_home`'s folder.

    Decisions use this process's clock; each is appended to the home's audit log
    (``audit.log`` in ``folder``, signed by the home's sealed audit key).

    Raises
    ------
    SecurityError
        The folder holds no domain home, or the master key file is missing or open to others.
    IntegrityError
        The master key does not open the sealed keys (wrong key, or an altered file).
    """
    folder = Path(folder)
    where = f"domain home {folder.name!r}"
    try:
        doc = json.loads((folder / _FILE).read_text())
    except (OSError, ValueError) as exc:
        raise SecurityError("no domain home here", where=where, expected=f"{_FILE} written by export_domain_home",
                            found=type(exc).__name__) from None
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        raise SecurityError("not a domain home", where=where, expected=f"format {_FORMAT}",
                            found=repr(doc.get("format") if isinstance(doc, dict) else type(doc).__name__))
    master = read_master_key(master_key_file)
    domain = doc["domain"]
    keyset = Keyset.unseal(doc["keyset"], master, where=f"{where}: keyset")
    raw = _unseal(master, doc["audit_signer"], f"{_FORMAT}|{domain}".encode(), f"{where}: audit signer")
    signer = Identity(Principal(f"{domain}-home-audit", "service", domain), Ed25519PrivateKey.from_private_bytes(raw))
    products = [ProductInfo(p["name"], p["domain"], p.get("owner"), tuple(p["columns"]), tuple(p["pii_columns"]),
                            tuple(tuple(t) for t in p.get("types", ()))) for p in doc["products"]]
    directory = Directory(PublicIdentity(Principal(e["name"], e["kind"], e.get("domain"), tuple(e.get("roles", ()))),
                                         public_key_from_bytes(bytes.fromhex(e["public_key"]),
                                                               where=f"{where}: directory[{e['name']!r}]"))
                          for e in doc["directory"])
    model = SecurityModel(products, keysets={domain: keyset}, directory=directory,
                          policy=Policy.from_dict(doc["policy"], where=f"{where}: policy"),
                          audit=AuditLog(signer, path=folder / "audit.log"), audience=doc["audience"])
    return SecureStore(doc["store"], model, deterministic=doc.get("deterministic"))
