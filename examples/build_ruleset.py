"""Build a small firewall in Python and print it as nft text and as libnftables JSON.

    python examples/build_ruleset.py          # text, then JSON
    python examples/build_ruleset.py --json   # JSON only
    python examples/build_ruleset.py --text   # text only (pipe it to `nft -f -` to load it)

Nothing is applied: this only compiles the model (see examples/demo.py for a live namespace).
"""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nftkit
from nftkit import (
    Chain,
    CounterStmt,
    CtExpr,
    ListExpr,
    MatchStmt,
    MetaExpr,
    PayloadExpr,
    PrefixExpr,
    Rule,
    Ruleset,
    Set,
    SetExpr,
    SetRefExpr,
    Table,
    VerdictExpr,
)

__all__ = ["build"]


def build() -> Ruleset:
    """An inet filter table: stateful input policy, ssh from an admin set, web open."""
    accept = VerdictExpr(kind="accept")
    admins = Set(name="admins", type="ipv4_addr", flags=["interval"], comment="may use ssh",
                 elements=[PrefixExpr(addr=ipaddress.IPv4Address("192.0.2.0"), len=24)])
    tcp_dport = PayloadExpr(protocol="tcp", field="dport")
    input_chain = Chain.base("input", hook="input", priority="filter", policy="drop", rules=[
        Rule(stmts=[MatchStmt(left=CtExpr(key="state"), op="in",  # a flag test, not ==
                              right=ListExpr(values=("established", "related"))), accept]),
        Rule(stmts=[MatchStmt(left=MetaExpr(key="iifname"), right="lo"), accept]),
        Rule(stmts=[MatchStmt(left=PayloadExpr(protocol="ip", field="saddr"),
                              right=SetRefExpr(name="admins")),
                    MatchStmt(left=tcp_dport, right=22), accept], comment="ssh for admins"),
        Rule(stmts=[MatchStmt(left=tcp_dport, right=SetExpr(elements=(80, 443))),
                    CounterStmt(), accept]),
    ])
    table = Table(family="inet", name="filter", sets=[admins], chains=[input_chain])
    return Ruleset(tables=[table])


def main(argv: list[str]) -> int:
    rs = build()
    if "--json" not in argv:
        print(nftkit.to_text(rs), end="")
    if "--text" not in argv:
        if "--json" not in argv:
            print()
        print(json.dumps(nftkit.to_json(rs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
