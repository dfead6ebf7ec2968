"""Developer report: which rules of the upstream corpus the netlink rule encoder carries, and
why the others fall back to libnftables.

    python -m tests.nl_rules_report [-v] [-r] [--list FILE] [--markdown] [--no-kernel]

Every ``ok`` rule of ../shared/corpus/nftables-tests/py/{ip,ip6,inet,any}/*.t is parsed with
``parse_rule`` and encoded with ``rule_expressions`` for nft 1.0.6 (in each family the file
lists). Each rule the encoder accepts is loaded with ``nft --debug=mnl`` in a throwaway
namespace (its table's sets and base chain first; ``--no-kernel`` skips this) and nft's
NEWRULE bytes must equal ours, and so must the NEWSET and NEWSETELEM messages of the rule's
anonymous sets (``{ 22, 80 }``, inline vmaps; counted as "with anonymous sets").

Prints counts, then (``-r``) the refused rules counted by category and by reason, every
difference (``-v``: as trees), and (``--list FILE``) writes every refused rule with its
reason, a line each. ``--markdown`` prints the category table for docs/netlink.md.
Differences where the parsed model already lost something (``log level warn`` read as no
level) are parser matters, not encoder ones. ``tests/backend/test_nl_coverage.py`` keeps the
encoder-side counts (``classify``) from regressing.
"""

from __future__ import annotations

import re
import secrets
import struct
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from nftkit import Family, Table, parse, parse_rule
from nftkit.backend.netlink._anon import AnonSets
from nftkit.backend.netlink._objects import anonymous_set_messages
from nftkit.backend.netlink._rules import rule_expressions, rule_userdata
from nftkit.errors import NftkitError, UnsupportedError
from nftkit.model.ruleset import Rule
from tests._oracle import CORPUS

__all__ = ["CATEGORIES", "Case", "category", "classify", "main"]

VERSION = (1, 0, 6)


class Case(NamedTuple):
    """One corpus rule in one family, as the encoder sees it."""

    path: str  # relative to the corpus
    family: str
    chain: str
    skel: str  # the table the rule goes into (sets, base chain), as nft text
    text: str
    status: str  # "encoded", "refused" or "unparsed"
    reason: str  # for "refused": the UnsupportedError's reason without its values
    rule: Rule | None
    table: Table | None


def _read(path: Path) -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
    """([(family, chain, chain spec)], [set definitions], [rules expected to load])."""
    specs: dict[str, str] = {}
    targets: list[tuple[str, str]] = []
    sets: list[str] = []
    rules: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith(":"):
            name, spec = line[1:].split(";", 1)
            specs[name] = spec
        elif line.startswith("*"):
            fam, _table, chains = line[1:].split(";")
            if fam in ("ip", "ip6", "inet"):
                targets.append((fam, chains.split(",")[0]))
        elif line.startswith("!"):
            name, rest = line[1:].rsplit(";", 1)[0].split(" ", 1)
            body = rest.replace(" flags ", "; flags ")
            sets.append(f"set {name} {{ {body}; }}")
        elif line and not line.startswith(("#", "-", "?")) and line.count(";") >= 1:
            text, result = line.split(";")[:2]
            if result == "ok":
                rules.append(text)
    return [(f, c, specs.get(c, "")) for f, c in targets], sets, rules


def _reason(message: str) -> str:
    """An UnsupportedError's message without the values it names, to count reasons."""
    text = message.removeprefix("netlink rule encoder: ").split(" is not supported")[0]
    return re.sub(r"'[^']*'|\"[^\"]*\"|\b\d+\b", "…", text)


#: Why rules fall back, by category: (category, patterns of ``_reason`` texts), first match.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("two payload matches on one header (nft merges them into one load, differently per "
     "release)", ("several payload matches",)),
    ("anonymous-set keys whose `typeof` userdata is not verified (`icmp type { ... }`, "
     "`tcp flags { ... }`)", ("typeof ",)),
    ("element datatypes the element encoder does not write (`ct state { established, "
     "related }`, uid, gid)", ("datatype ",)),
    ("intervals of concatenations or of host-order keys longer than a byte (`meta mark "
     "{ 1-5 }`: nft adds a byteorder expression)", ("intervals of",)),
    ("anonymous nat maps to an address and a port and other inline maps",
     ("anonymous nat maps", "anonymous data maps", "anonymous map keys")),
    ("statements or statement forms not covered (`queue`, `tproxy`, `synproxy`, byte-rate "
     "limits, payload mangling, nat ranges...)",
     ("the statement ", "byte-rate", "setting ", "log flags", "this redirect", "nat to ",
      "dnat in this form", "snat in this form", "reject with", "masquerade to",
      "nat port ranges", "the nat flag", "not an address")),
    ("host-order ranges and comparisons, `x ^ c`, shifts, `jhash`/`symhash`, other "
     "expressions", ("a range of host-order", "a match on x", "shifts", "loading ",
                     "bitwise operations", "< on", "> on", "a prefix with",
                     "the expression int", "the expression IPv", "the expression Jhash",
                     "the value ", "the ! flag", "this one-element set",
                     "expected an integer", "the interface name", "constant iface_index")),
    ("selectors the encoder does not cover (extension headers, TCP options, SCTP chunks, "
     "`meta iif`, `ct expiration`, sub-byte fields such as `ip dscp`...)",
     ("the expression ", "payload ", "meta ", "ct ", "fib ", "fields in a")),
)


def category(reason: str) -> str:
    """The category of a refusal reason ("other" if none matches)."""
    for name, patterns in CATEGORIES:
        if any(reason.startswith(p) or p in reason for p in patterns):
            return name
    return "other"


def classify(corpus: Path = CORPUS) -> Iterator[Case]:
    """Every ``ok`` rule of the corpus in every family its file lists, encoded for nft
    1.0.6 (no kernel needed)."""
    for path in sorted(corpus.glob("py/*/*.t")):
        if path.parent.name not in ("ip", "ip6", "inet", "any"):
            continue
        targets, sets, rules = _read(path)
        rel = str(path.relative_to(corpus))
        for fam, chain, spec in targets:
            if "device" in spec:
                continue
            skel = (f"table {fam} t {{\n" + "".join(f"  {s}\n" for s in sets)
                    + f"  chain {chain} {{ {spec}; }}\n}}\n")
            try:
                table = parse(skel).tables[0]
            except NftkitError:
                table = None
            for text in rules:
                rule = None
                try:
                    rule = parse_rule(text, family=fam)
                    rule_expressions(rule, family=fam, table=table, anon=AnonSets(),
                                     version=VERSION)
                except UnsupportedError as exc:
                    yield Case(rel, fam, chain, skel, text, "refused", _reason(str(exc)), rule,
                               table)
                    continue
                except NftkitError:
                    yield Case(rel, fam, chain, skel, text, "unparsed", "", rule, table)
                    continue
                yield Case(rel, fam, chain, skel, text, "encoded", "", rule, table)


def _compare(ns: str, case: Case, stats: Counter[str], diffs: list[str], verbose: bool) -> None:
    """Load ``case`` with ``nft --debug=mnl`` and compare its messages with ours."""
    from tests.backend.test_nl_anon import NEWSETELEM
    from tests.backend.test_nl_rules import NEWRULE, NEWSET, mnl_messages, pretty, tlvs

    fam, rule, table = case.family, case.rule, case.table
    assert rule is not None
    script = f"flush ruleset\n{case.skel}add rule {fam} t {case.chain} {case.text}\n"
    r = subprocess.run(["ip", "netns", "exec", ns, "nft", "--debug=mnl", "-f", "-"],
                       input=script, capture_output=True, text=True)
    if r.returncode:
        stats["nft refused"] += 1
        return
    ids: dict[str, int] = {}
    sent: tuple[bytes, bytes | None] = (b"", None)
    anon_sent: list[tuple[int, bytes]] = []
    for kind, body in mnl_messages(r.stdout + r.stderr):
        a = dict(tlvs(body))
        if kind in (NEWSET, NEWSETELEM) and a[2].startswith(b"__"):
            anon_sent.append((kind, body))
        elif kind == NEWSET:
            ids[a[2].rstrip(b"\0").decode()] = struct.unpack(">I", a[10])[0]
        elif kind == NEWRULE:
            sent = (a[4], a.get(7))
    first = next((struct.unpack(">I", dict(tlvs(b))[10])[0]
                  for k, b in anon_sent if k == NEWSET), 1)
    anon = AnonSets(first)
    ours = rule_expressions(rule, family=fam, table=table, set_ids=ids, anon=anon,
                            version=VERSION)
    anon_ours = [(0x0A00 | k, b) for k, _f, _fam, b in
                 anonymous_set_messages(Family(fam), "t", anon)]
    if anon.sets:
        stats["with anonymous sets"] += 1
    if (ours, rule_userdata(rule)) == sent and anon_ours == anon_sent:
        stats["byte-identical"] += 1
        return
    stats["different"] += 1
    where = f"{case.path} [{fam}] {case.text}"
    diffs.append(where + (f"\n{pretty(ours)}\n--- nft:\n{pretty(sent[0])}" if verbose else ""))


def markdown(cases: list[Case]) -> str:
    """The category table of the refused rules."""
    counts = Counter(category(c.reason) for c in cases if c.status == "refused")
    out = ["| why the rule falls back to libnftables | rules |", "|---|---:|"]
    out += [f"| {name} | {n:,} |" for name, n in counts.most_common()]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    cases = list(classify())
    stats: Counter[str] = Counter(c.status for c in cases)
    diffs: list[str] = []
    if "--no-kernel" not in argv:
        ns = f"nftkit-t-{secrets.token_hex(4)}"
        subprocess.run(["ip", "netns", "add", ns], check=True)
        try:
            for case in cases:
                if case.status == "encoded":
                    _compare(ns, case, stats, diffs, verbose)
        finally:
            subprocess.run(["ip", "netns", "delete", ns], check=False)
    print(dict(stats))
    refused = [c for c in cases if c.status == "refused"]
    if "-r" in argv:
        for name, n in Counter(category(c.reason) for c in refused).most_common():
            print(f"{n:5d}  [{name}]")
        for reason, count in Counter(c.reason for c in refused).most_common():
            print(f"{count:5d}  {reason}")
    if "--markdown" in argv:
        print(markdown(cases))
    if "--list" in argv:
        out = Path(argv[argv.index("--list") + 1])
        out.write_text("".join(f"{c.path}\t{c.family}\t{c.text}\t{c.reason}\n"
                               for c in refused))
        print(f"{len(refused)} refused rules listed in {out}")
    for d in diffs:
        print("DIFF", d)
    return 1 if stats["different"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
