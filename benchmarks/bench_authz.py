"""Authorization decisions per second for a policy of 10,000 grants.

* **meshkit** — :meth:`Policy.authorize` (grants indexed by subject and action, union of the
  matching grants, explicit denies first).
* **peer: linear scan** — the textbook evaluator: for every decision, scan every deny and
  every grant (same matching rules, first match wins). Its answers are checked to agree with
  meshkit's on allowed/denied.
* **full decision** — :meth:`SecurityModel.decide` with an Ed25519 token verified and the
  decision appended to the Merkle audit log with a signed checkpoint: the cost a read pays.

Run: ``.venv/bin/python benchmarks/bench_authz.py [--grants 10000 --decisions 20000]``;
JSON goes to ``benchmarks/results/bench_authz.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grants", type=int, default=10_000)
    ap.add_argument("--decisions", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
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
    model = SecurityModel.build(products, identities=idents, policy=policy, source=src,
                                clock=lambda: NOW.timestamp())
    tokens = [i.issue_token(audience="meshkit", now=NOW) for i in idents]
    rng = random.Random(args.seed)
    n_full = min(len(reqs), 3_000)
    full_reqs = [(rng.randrange(50), rng.choice(products).name, rng.choice(ACTIONS))
                 for _ in range(n_full)]
    t0 = time.perf_counter()
    for k, prod, a in full_reqs:
        model.decide(prod, tokens[k], a)
    t_full = time.perf_counter() - t0
    assert model.audit.verify().ok

    rates = {"meshkit_authorize_per_s": len(reqs) / t_ours,
             "peer_linear_scan_per_s": n_peer / t_peer,
             "full_decision_per_s": n_full / t_full}
    ratio = rates["meshkit_authorize_per_s"] / rates["peer_linear_scan_per_s"]
    allowed = sum(ours) / len(ours)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"policy: {len(policy.grants)} grants, {len(policy.denies)} denies; "
          f"{len(reqs)} decisions ({allowed:.1%} allowed); {os.cpu_count()} shared cores: "
          f"figures are noisy")
    print(f"meshkit Policy.authorize      {rates['meshkit_authorize_per_s']:>10.0f} decisions/s")
    print(f"peer: linear scan             {rates['peer_linear_scan_per_s']:>10.0f} decisions/s "
          f"(agrees on allowed/denied for {agree:.1%})")
    print(f"full decision (token + audit) {rates['full_decision_per_s']:>10.0f} decisions/s")
    print(f"ratio meshkit / linear scan: {ratio:.1f}x; peak RSS {peak:.0f} MiB")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_authz.json").write_text(json.dumps(
        {"grants": len(policy.grants), "decisions": len(reqs), "rates": rates,
         "ratio_vs_linear_scan": ratio, "agreement": agree, "allowed_share": allowed,
         "peak_rss_mib": peak}, indent=2))
    print("wrote benchmarks/results/bench_authz.json")


if __name__ == "__main__":
    main()
