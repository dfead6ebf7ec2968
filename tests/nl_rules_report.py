"""Developer report: the netlink rule encoder over the upstream rule-level corpus.

    python -m tests.nl_rules_report [-v] [-r]

Every ``ok`` rule of ../shared/corpus/nftables-tests/py/{ip,ip6,inet,any}/*.t is parsed with
``parse_rule`` and encoded with ``rule_expressions``; each rule the encoder accepts is loaded
with ``nft --debug=mnl`` in a throwaway namespace (its table's sets and base chain first) and
nft's NEWRULE bytes must equal ours, and so must the NEWSET and NEWSETELEM messages of the
rule's anonymous sets (``{ 22, 80 }``, inline vmaps; counted as "with anonymous sets").
Prints counts and every difference (``-v``: as trees; ``-r``: why rules are refused, counted).
Differences where the parsed model already lost something (``ct status ! dnat`` read as
``!=``, ``log level warn`` read as no level) are parser matters, not encoder ones.
"""

from __future__ import annotations

import re
import secrets
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path

from nftkit import Family, parse, parse_rule
from nftkit.backend.netlink._anon import AnonSets
from nftkit.backend.netlink._objects import anonymous_set_messages
from nftkit.backend.netlink._rules import rule_expressions, rule_userdata
from nftkit.errors import NftkitError, UnsupportedError
from tests._oracle import CORPUS
from tests.backend.test_nl_anon import NEWSETELEM
from tests.backend.test_nl_rules import NEWRULE, NEWSET, mnl_messages, pretty, tlvs

__all__ = ["main"]


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


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    ns = f"nftkit-t-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    stats: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    diffs: list[str] = []
    try:
        for path in sorted(CORPUS.glob("py/*/*.t")):
            if path.parent.name not in ("ip", "ip6", "inet", "any"):
                continue
            targets, sets, rules = _read(path)
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
                    try:
                        rule = parse_rule(text, family=fam)
                        rule_expressions(rule, family=fam, table=table, anon=AnonSets())
                    except UnsupportedError as exc:
                        stats["unsupported"] += 1
                        reasons[_reason(str(exc))] += 1
                        continue
                    except NftkitError:
                        stats["unparsed"] += 1
                        continue
                    script = f"flush ruleset\n{skel}add rule {fam} t {chain} {text}\n"
                    r = subprocess.run(["ip", "netns", "exec", ns, "nft", "--debug=mnl", "-f",
                                        "-"], input=script, capture_output=True, text=True)
                    if r.returncode:
                        stats["nft refused"] += 1
                        continue
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
                    ours = rule_expressions(rule, family=fam, table=table, set_ids=ids,
                                            anon=anon)
                    anon_ours = [(0x0A00 | k, b) for k, _f, _fam, b in
                                 anonymous_set_messages(Family(fam), "t", anon)]
                    if anon.sets:
                        stats["with anonymous sets"] += 1
                    if (ours, rule_userdata(rule)) == sent and anon_ours == anon_sent:
                        stats["byte-identical"] += 1
                        continue
                    stats["different"] += 1
                    where = f"{path.relative_to(CORPUS)} [{fam}] {text}"
                    diffs.append(where + (f"\n{pretty(ours)}\n--- nft:\n{pretty(sent[0])}"
                                          if verbose else ""))
    finally:
        subprocess.run(["ip", "netns", "delete", ns], check=False)
    print(dict(stats))
    if "-r" in argv:
        for reason, count in reasons.most_common():
            print(f"{count:5d}  {reason}")
    for d in diffs:
        print("DIFF", d)
    return 1 if stats["different"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
