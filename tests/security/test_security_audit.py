"""RFC 6962 Merkle tree (published test vectors), proofs, and the tamper-evident log."""

import json

import pytest

from meshkit import IntegrityError
from meshkit._security.audit import (EMPTY_ROOT, AuditLog, consistency_proof, inclusion_proof,
                                    leaf_hash, merkle_root, node_hash, verify_consistency,
                                    verify_inclusion, verify_log)
from meshkit._security.keys import SeededKeySource
from meshkit._security.tokens import Identity, Principal

# The RFC 6962 reference tree used by Certificate Transparency implementations:
# the eight leaves and the tree head for every size 1..8.
LEAVES = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243",
                                     "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
ROOTS = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
         "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
         "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
         "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
         "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
         "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
         "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
         "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}
CONSISTENCY_2_8 = ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]
HASHES = [leaf_hash(x) for x in LEAVES]


def test_rfc6962_roots_for_every_size():
    assert merkle_root([]).hex() == EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert [merkle_root(HASHES[:n]).hex() for n in range(1, 9)] == ROOTS


def test_rfc6962_inclusion_and_consistency_vectors():
    root = bytes.fromhex(ROOTS[7])
    for (index, size), proof in INCLUSION.items():
        assert [p.hex() for p in inclusion_proof(HASHES[:size], index)] == proof
        assert verify_inclusion(HASHES[index], index, size, [bytes.fromhex(p) for p in proof],
                                root)
    assert [p.hex() for p in consistency_proof(HASHES, 2)] == CONSISTENCY_2_8
    assert verify_consistency(2, 8, bytes.fromhex(ROOTS[1]), root,
                              [bytes.fromhex(p) for p in CONSISTENCY_2_8])


def test_prefixes_and_node_order_matter():
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) != node_hash(b, a)
    # a leaf can never pose as an interior node (domain separation 0x00 / 0x01)
    assert leaf_hash(a + b) != node_hash(a, b)


def test_every_proof_verifies_and_mangled_ones_do_not():
    for n in range(1, 34):
        leaves = [leaf_hash(b"entry %d" % i) for i in range(n)]
        root = merkle_root(leaves)
        for i in range(n):
            proof = inclusion_proof(leaves, i)
            assert verify_inclusion(leaves[i], i, n, proof, root)
            assert not verify_inclusion(leaves[(i + 1) % n], i, n, proof, root) or n == 1
            if proof:
                bad = list(proof)
                bad[0] = bytes([bad[0][0] ^ 1]) + bad[0][1:]
                assert not verify_inclusion(leaves[i], i, n, bad, root)
                assert not verify_inclusion(leaves[i], i, n, proof[:-1], root)
            assert not verify_inclusion(leaves[i], i, n, proof + [bytes(32)], root)
        for m in range(0, n + 1):
            proof = consistency_proof(leaves, m)
            old = merkle_root(leaves[:m])
            assert verify_consistency(m, n, old, root, proof)
            if proof:
                assert not verify_consistency(m, n, old, root, proof[:-1])
                assert not verify_consistency(m, n, old, root, proof + [bytes(32)])
            if 0 < m < n:
                assert not verify_consistency(m, n, leaf_hash(b"forged"), root, proof)


def test_proof_generators_reject_out_of_range():
    with pytest.raises(IntegrityError):
        inclusion_proof(HASHES, 8)
    with pytest.raises(IntegrityError):
        consistency_proof(HASHES, 9)


@pytest.fixture()
def log(tmp_path):
    signer = Identity.generate(Principal("audit", "service"), source=SeededKeySource(4))
    log = AuditLog(signer, path=tmp_path / "audit.jsonl")
    for i in range(10):
        log.append({"principal": f"p{i % 3}", "action": "read", "allowed": i % 2 == 0})
    return log


def _rewrite(path, lines):
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def test_intact_log_verifies_from_file_with_only_the_public_key(log):
    result = AuditLog.verify_file(log.path, log.public_key, log_id=log.log_id)
    assert result.ok and result.size == 10 and "intact" in str(result)
    # third party: inclusion of entry 3 in the signed checkpoint, consistency 4 -> 10
    entries, cps = AuditLog.read(log.path)
    last = cps[-1]
    assert last.verify(log.public_key)
    assert verify_inclusion(leaf_hash(entries[3]), 3, last.size, log.inclusion_proof(3),
                            last.root)
    cp4 = next(c for c in cps if c.size == 4)
    assert verify_consistency(4, last.size, cp4.root, last.root, log.consistency_proof(4))


def test_edited_entry_is_found(log):
    entries, _ = AuditLog.read(log.path)
    rec = json.loads(entries[6])
    rec["allowed"] = not rec["allowed"]
    entries[6] = json.dumps(rec, sort_keys=True, separators=(",", ":")).encode()
    _rewrite(log.path, entries)
    result = AuditLog.verify_file(log.path, log.public_key, log_id=log.log_id)
    assert not result.ok and result.first_bad == 6
    assert "edited" in str(result)


def test_removed_reordered_and_truncated_entries_are_found(log):
    entries, _ = AuditLog.read(log.path)
    cases = {"removed": entries[:4] + entries[5:],
             "reordered": entries[:2] + [entries[3], entries[2]] + entries[4:],
             "truncated": entries[:7]}
    for name, lines in cases.items():
        _rewrite(log.path, lines)
        result = AuditLog.verify_file(log.path, log.public_key, log_id=log.log_id)
        assert not result.ok, name
        assert result.first_bad is not None and result.first_bad <= 7, name
    assert "truncated" in str(result)


def test_forged_checkpoint_signature_is_found(log, tmp_path):
    cp_path = log.path.with_name(log.path.name + ".checkpoints")
    lines = cp_path.read_text().splitlines()
    last = json.loads(lines[-1])
    last["root"] = "00" * 32
    lines[-1] = json.dumps(last)
    cp_path.write_text("\n".join(lines) + "\n")
    result = AuditLog.verify_file(log.path, log.public_key, log_id=log.log_id)
    assert not result.ok and any("signature" in p for p in result.problems)


def test_wrong_public_key_does_not_verify(log):
    other = Identity.generate(Principal("x"), source=SeededKeySource(5)).public().public_key
    assert not verify_log(log.entries, log.checkpoints, other, log_id=log.log_id).ok


def test_in_memory_log_and_html(log):
    assert log.verify().ok
    log.entries[1] = log.entries[1].replace(b"read", b"write")
    result = log.verify()
    assert not result.ok and "TAMPERED" in result._repr_html_()


def test_entries_no_checkpoint_signed_are_found(log):
    entries, _ = AuditLog.read(log.path)
    forged = json.dumps({"seq": 10, "action": "read", "allowed": True}, sort_keys=True,
                        separators=(",", ":")).encode()
    _rewrite(log.path, entries + [forged])
    result = AuditLog.verify_file(log.path, log.public_key, log_id=log.log_id)
    assert not result.ok and result.first_bad == 10
    assert "no signed checkpoint" in str(result)
    # deleting every checkpoint does not make a rewritten log pass either
    log.path.with_name(log.path.name + ".checkpoints").write_text("")
    _rewrite(log.path, [forged.replace(b'"seq":10', b'"seq":0')])
    result = AuditLog.verify_file(log.path, log.public_key, log_id=log.log_id)
    assert not result.ok and result.first_bad == 0


# -- a log a third party can trust --------------------------------------------------------
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

from meshkit._security.audit import Witness  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _signer(seed=4):
    return Identity.generate(Principal("audit", "service"), source=SeededKeySource(seed))


def _cut(log, size):
    """Cut the log back to ``size`` entries together with its checkpoints (the attack)."""
    entries, cps = AuditLog.read(log.path)
    _rewrite(log.path, entries[:size])
    cp_path = log.path.with_name(log.path.name + ".checkpoints")
    cp_path.write_text("".join(json.dumps(c.to_dict()) + "\n" for c in cps if c.size <= size))


def test_opening_a_log_never_erases_it(log):
    before = log.path.read_bytes()
    again = AuditLog(_signer(), path=log.path)
    assert len(again) == 10 and again.log_id == log.log_id
    assert log.path.read_bytes() == before
    assert again.append({"action": "read"}) == 10
    assert AuditLog.verify_file(log.path, log.public_key, log_id=log.log_id).ok
    # another signer (a second model with a new key) is refused, and erases nothing
    with pytest.raises(IntegrityError, match="does not verify under this signer"):
        AuditLog(_signer(5), path=log.path)
    with pytest.raises(IntegrityError, match="another log"):
        AuditLog(_signer(), path=log.path, log_id="meshkit-audit/other")
    assert len(AuditLog.read(log.path)[0]) == 11


def test_a_second_model_on_the_same_audit_file_keeps_its_entries(tmp_path):
    from meshkit import Policy, ProductInfo, SecurityModel

    products = [ProductInfo("orders", "sales", owner="sam", columns=("id",))]
    path = tmp_path / "audit.jsonl"
    first = SecurityModel.build(products, policy=Policy(), clock=lambda: 1, audit_path=path)
    for _ in range(8):
        first.decide("orders", "not-a-token", "read")
    with pytest.raises(IntegrityError):  # a fresh audit key cannot continue the log...
        SecurityModel.build(products, clock=lambda: 1, audit_path=path)
    assert len(AuditLog.read(path)[0]) == 8  # ...and erases nothing (8 entries, still 8)
    second = SecurityModel.build(products, clock=lambda: 1,
                                 audit=AuditLog(first.audit.signer, path=path))
    second.decide("orders", "not-a-token", "read")
    assert AuditLog.verify_file(path, first.audit.public_key, log_id=first.audit.log_id).ok
    assert len(AuditLog.read(path)[0]) == 9


def test_log_id_is_checked(tmp_path):
    a = AuditLog(_signer(), path=tmp_path / "a.jsonl")
    b = AuditLog(_signer(), path=tmp_path / "b.jsonl")  # same key, another log
    assert a.log_id != b.log_id
    for log in (a, b):
        log.append({"action": "read"})
    assert AuditLog.verify_file(a.path, a.public_key, log_id=a.log_id).ok
    result = AuditLog.verify_file(b.path, b.public_key, log_id=a.log_id)
    assert not result.ok and "belongs to log" in str(result)


def test_seeded_demo_runs_do_not_share_audit_keys():
    from meshkit import ProductInfo, SecurityModel

    products = [ProductInfo("orders", "sales", columns=("id",))]
    runs = [SecurityModel.build(products, source=SeededKeySource(42), clock=lambda: 1)
            for _ in range(2)]
    assert runs[0].keysets["sales"].primary.key_id == runs[1].keysets["sales"].primary.key_id
    keys = [m.audit.signer.public().public_bytes for m in runs]
    assert keys[0] != keys[1] and runs[0].audit.log_id != runs[1].audit.log_id


_WRITER = """
import sys
from meshkit._security.audit import AuditLog
from meshkit._security.keys import SeededKeySource
from meshkit._security.tokens import Identity, Principal
signer = Identity.generate(Principal("audit", "service"), source=SeededKeySource(4))
log = AuditLog(signer, path=sys.argv[1])
for i in range(int(sys.argv[3])):
    log.append({"writer": sys.argv[2], "i": i})
"""


def test_n_processes_appending_to_one_log_produce_one_valid_tree(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(_signer(), path=path)
    log.append({"writer": "parent"})
    n, each = 4, 40
    env = {"PYTHONPATH": str(ROOT), "PATH": ""}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), f"w{k}", str(each)],
                              env=env, stderr=subprocess.PIPE) for k in range(n)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    entries, cps = AuditLog.read(path)
    records = [json.loads(e) for e in entries]
    assert [r["seq"] for r in records] == list(range(1 + n * each))  # one sequence
    for k in range(n):
        assert [r["i"] for r in records if r.get("writer") == f"w{k}"] == list(range(each))
    assert [c.size for c in cps] == list(range(2 + n * each))  # one tree, signed at each
    assert AuditLog.verify_file(path, log.public_key, log_id=log.log_id).ok
    assert len(log.refresh()) == 1 + n * each and log.verify().ok


def test_threads_appending_share_one_sequence(tmp_path):
    path = tmp_path / "audit.jsonl"
    logs = [AuditLog(_signer(), path=path)]
    logs += [AuditLog(_signer(), path=path) for _ in range(2)]
    shared = logs[0]

    def write(log, k):
        for i in range(30):
            log.append({"thread": k, "i": i})

    threads = [threading.Thread(target=write, args=(logs[k % 3] if k < 3 else shared, k))
               for k in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries, _ = AuditLog.read(path)
    assert [json.loads(e)["seq"] for e in entries] == list(range(150))
    assert AuditLog.verify_file(path, shared.public_key, log_id=shared.log_id).ok


def test_truncation_is_caught_by_a_witness(log, tmp_path):
    witness = Witness(tmp_path / "witness" / "checkpoints.jsonl")
    assert witness.watch(log).size == 10
    _cut(log, 6)  # tail and checkpoints cut together: the log agrees with itself...
    assert AuditLog.verify_file(log.path, log.public_key, log_id=log.log_id).ok
    result = AuditLog.verify_file(log.path, log.public_key, log_id=log.log_id, witness=witness)
    assert not result.ok and "cut back" in str(result) and result.first_bad == 6
    # ...and regrown past the witnessed size with other entries: the proof fails
    regrown = AuditLog(_signer(), path=log.path)
    for i in range(6):
        regrown.append({"action": "forged", "i": i})
    assert regrown.verify().ok
    result = regrown.verify(witness=witness)
    assert not result.ok and "consistency proof fails" in str(result)
    with pytest.raises(IntegrityError, match="does not extend"):
        witness.watch(regrown)
    # both files emptied
    log.path.write_bytes(b"")
    log.path.with_name(log.path.name + ".checkpoints").write_text("")
    result = AuditLog.verify_file(log.path, log.public_key, log_id=log.log_id, witness=witness)
    assert not result.ok and "cut back" in str(result)


def test_a_witness_follows_an_honest_log_and_keeps_its_own_file(log, tmp_path):
    path = tmp_path / "witness.jsonl"
    witness = Witness(path)
    witness.watch(log)
    for i in range(5):
        log.append({"action": "read", "i": i})
        witness.watch(log)
    assert log.verify(witness=witness).ok and witness.latest(log.log_id).size == 15
    reopened = Witness(path, identity=witness.identity)
    assert reopened.latest(log.log_id).size == 15
    # the log's writer rewrites the witness's file back to size 10: the witness notices
    lines = path.read_text().splitlines()
    doc = json.loads(lines[0])
    lines.append(json.dumps(doc))  # an old record replayed is fine (the newest counts)...
    forged = dict(doc, size=99)
    lines.append(json.dumps(forged))  # ...a record it did not sign is not
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(IntegrityError, match="not signed by this witness"):
        Witness(path, identity=witness.identity)
    with pytest.raises(IntegrityError, match="not signed by this witness"):
        Witness(path)  # another witness's file


def test_malformed_checkpoints_are_meshkit_errors(log):
    cp_path = log.path.with_name(log.path.name + ".checkpoints")
    lines = cp_path.read_text().splitlines()
    for bad in ("{not json", json.dumps({"log_id": log.log_id, "size": 3}),
                json.dumps({**json.loads(lines[2]), "root": "zz"}), "[1, 2]"):
        cp_path.write_text("\n".join([*lines[:3], bad, *lines[4:]]) + "\n")
        with pytest.raises(IntegrityError, match="malformed audit checkpoint") as err:
            AuditLog.read(log.path)
        assert err.value.where.endswith("line 4")
        with pytest.raises(IntegrityError, match="malformed audit checkpoint"):
            AuditLog(_signer(), path=log.path)
    cp_path.write_text("\n".join(lines) + "\n")
    log.path.write_bytes(log.path.read_bytes() + b'{"seq":10,"act')  # a cut-off write
    with pytest.raises(IntegrityError, match="partial line"):
        AuditLog.read(log.path)


def _append_from_child(log, name, count):
    for i in range(count):
        log.append({"writer": name, "i": i})


def test_forked_writers_sharing_one_log_object_still_take_turns(tmp_path):
    import multiprocessing

    log = AuditLog(_signer(), path=tmp_path / "audit.jsonl")
    log.append({"writer": "parent"})  # the lock descriptor is open before the fork
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=_append_from_child, args=(log, f"c{k}", 30))
                for k in range(3)]
    for child in children:
        child.start()
    _append_from_child(log, "parent", 30)
    for child in children:
        child.join(timeout=300)
        assert child.exitcode == 0
    entries, _ = AuditLog.read(log.path)
    assert [json.loads(e)["seq"] for e in entries] == list(range(1 + 4 * 30))
    assert log.verify().ok and len(log) == 1 + 4 * 30
