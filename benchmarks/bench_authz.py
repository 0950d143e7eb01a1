"""Authorization decisions per second for a policy of 10,000 grants.

* **meshkit** — :meth:`Policy.authorize` (grants indexed by subject and action, union of the
  matching grants, explicit denies first).
* **peer: linear scan** — the textbook evaluator: for every decision, scan every deny and
  every grant (same matching rules, first match wins). Its answers are checked to agree with
  meshkit's on allowed/denied.
* **full decision** — :meth:`SecurityModel.decide` with an Ed25519 token verified and the
  decision appended to the Merkle audit log with a signed checkpoint: the cost a read pays.
* **full decision, audit on disk** — the same with the log persisted: since the audit log
  takes a file lock and catches up with other writers on every append, this is the cost of
  one sequence and one tree across processes.
* **before / after** — ``--before DIR`` runs the same measurements in a subprocess against
  the meshkit package found in ``DIR`` (e.g. a ``git archive`` of an earlier commit) and
  prints after/before ratios. The bench calls only what both versions share (tokens carry
  no purpose here; the policy has no purpose-bound grants).

Run: ``.venv/bin/python benchmarks/bench_authz.py [--full] [--before DIR]``; the default
(2,000 grants) takes well under two minutes, ``--full`` uses the issue's 10,000 grants.
JSON goes to ``benchmarks/results/bench_authz.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from meshkit import Identity, Policy, Principal, ProductInfo, SecurityModel
from meshkit._security.keys import SeededKeySource

HERE = Path(__file__).resolve().parent
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
ACTIONS = ("read", "write", "publish", "administer")


def build(n_grants: int, seed: int):
    rng = random.Random(seed)
    domains = [f"d{i}" for i in range(20)]
    products = [ProductInfo(f"p{i}", domains[i % 20], owner=f"owner{i % 20}",
                            columns=("id", "email", "amount", "region"), pii_columns=("email",))
                for i in range(200)]
    people = [Principal(f"u{i}", domain=rng.choice(domains),
                        roles=tuple(rng.sample(["analyst", "engineer", "auditor", "bi"], 2)))
              for i in range(1000)]
    grants = []
    for i in range(n_grants):
        g = {"id": f"g{i}", "action": rng.choice(ACTIONS[:3])}
        g.update({"principal": rng.choice(people).name} if rng.random() < 0.98
                 else {"role": rng.choice(["analyst", "engineer", "auditor", "bi"])})
        g.update({"product": rng.choice(products).name} if rng.random() < 0.95
                 else {"domain": rng.choice(domains)})
        if rng.random() < 0.5:
            g["columns"] = ["id", "amount", "email"]
            g["masks"] = {"email": rng.choice(["partial", "tokenize", "redact"])}
        if rng.random() < 0.3:
            g["row_filter"] = "amount > 10"
        if rng.random() < 0.5:
            g["expires"] = (NOW + timedelta(days=rng.randint(-30, 30))).isoformat()
        grants.append(g)
    denies = [{"principal": rng.choice(people).name, "domain": rng.choice(domains)}
              for _ in range(50)]
    policy = Policy.from_dict({"grants": grants, "denies": denies})
    requests = [(rng.choice(people), rng.choice(products), rng.choice(ACTIONS))
                for _ in range(100_000)]
    return policy, products, people, requests


def linear_scan(policy: Policy, principal, product, action, now) -> bool:
    """The peer: scan everything, first matching grant wins."""
    for d in policy.denies:
        if d.matches(principal, product, action):
            return False
    if product.owner == principal.name:
        return True
    if action == "administer":
        return False
    for g in policy.grants:
        if (g.action == action and g.subject_matches(principal) and g.scope_matches(product)
                and (g.expires is None or g.expires > now) and g.purpose is None):
            return True
    return False


def measure(args) -> dict:
    policy, products, people, requests = build(args.grants, args.seed)
    reqs = requests[: args.decisions]

    t0 = time.perf_counter()
    ours = [policy.authorize(p, prod, a, now=NOW).allowed for p, prod, a in reqs]
    t_ours = time.perf_counter() - t0

    n_peer = min(len(reqs), 2_000)  # the scan is slow: a prefix is enough for a rate
    t0 = time.perf_counter()
    peer = [linear_scan(policy, p, prod, a, NOW) for p, prod, a in reqs[:n_peer]]
    t_peer = time.perf_counter() - t0
    agree = sum(o == q for o, q in zip(ours, peer)) / n_peer

    src = SeededKeySource(args.seed)
    idents = [Identity.generate(p, source=src) for p in people[:50]]
    tokens = [i.issue_token(audience="meshkit", now=NOW) for i in idents]
    rng = random.Random(args.seed)
    n_full = min(len(reqs), args.full_decisions)
    full_reqs = [(rng.randrange(50), rng.choice(products).name, rng.choice(ACTIONS))
                 for _ in range(n_full)]
    rates = {"meshkit_authorize_per_s": len(reqs) / t_ours,
             "peer_linear_scan_per_s": n_peer / t_peer}
    with tempfile.TemporaryDirectory() as tmp:
        for key, audit_path in (("full_decision_per_s", None),
                                ("full_decision_audit_on_disk_per_s",
                                 Path(tmp) / "audit.jsonl")):
            model = SecurityModel.build(products, identities=idents, policy=policy.copy(),
                                        source=src, clock=lambda: NOW.timestamp(),
                                        audit_path=audit_path)
            t0 = time.perf_counter()
            for k, prod, a in full_reqs:
                model.decide(prod, tokens[k], a)
            rates[key] = n_full / (time.perf_counter() - t0)
            assert model.audit.verify().ok
    return {"grants": len(policy.grants), "denies": len(policy.denies), "decisions": len(reqs),
            "rates": rates, "agreement": agree, "allowed_share": sum(ours) / len(ours),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the issue's size: 10,000 grants")
    ap.add_argument("--grants", type=int, default=None)
    ap.add_argument("--decisions", type=int, default=None)
    ap.add_argument("--full-decisions", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--before", default=None,
                    help="a folder holding an earlier meshkit package to compare with")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.grants = args.grants or (10_000 if args.full else 2_000)
    args.decisions = args.decisions or (20_000 if args.full else 5_000)
    args.full_decisions = args.full_decisions or (3_000 if args.full else 1_000)
    result = measure(args)
    if args.json:
        print(json.dumps(result))
        return
    before = None
    if args.before:
        cmd = [sys.executable, __file__, "--json", "--grants", str(args.grants),
               "--decisions", str(args.decisions), "--full-decisions",
               str(args.full_decisions), "--seed", str(args.seed)]
        env = {**os.environ, "PYTHONPATH": str(Path(args.before).resolve())}
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
        before = json.loads(out.stdout.strip().splitlines()[-1])
    rates = result["rates"]
    ratio = rates["meshkit_authorize_per_s"] / rates["peer_linear_scan_per_s"]
    print(f"policy: {result['grants']} grants, {result['denies']} denies; "
          f"{result['decisions']} decisions ({result['allowed_share']:.1%} allowed); "
          f"{os.cpu_count()} shared cores: figures are noisy")
    labels = {"meshkit_authorize_per_s": "meshkit Policy.authorize",
              "peer_linear_scan_per_s": "peer: linear scan",
              "full_decision_per_s": "full decision (token + audit)",
              "full_decision_audit_on_disk_per_s": "full decision, audit on disk"}
    for key, label in labels.items():
        line = f"{label:<32} {rates[key]:>10.0f} decisions/s"
        if before is not None and key in before["rates"]:
            line += (f"   before {before['rates'][key]:>10.0f}/s   after/before "
                     f"{rates[key] / before['rates'][key]:.2f}x")
        print(line)
    print(f"linear scan agrees on allowed/denied for {result['agreement']:.1%}")
    print(f"ratio meshkit / linear scan: {ratio:.1f}x; peak RSS {result['peak_rss_mib']:.0f} MiB")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_authz.json").write_text(json.dumps(
        {**result, "ratio_vs_linear_scan": ratio, "before": before}, indent=2))
    print("wrote benchmarks/results/bench_authz.json")


if __name__ == "__main__":
    main()
