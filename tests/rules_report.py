"""Rule-level conformance over upstream's ``py/<family>/*.t`` files, with the installed nft as
the oracle.

    python -m tests.rules_report [-v] [--no-cache] [--upstream] [PATTERN ...]

For each ``.t`` file: build its tables and chains (``*family;table;chains`` and
``:chain;spec`` lines), named sets (``!name spec``), their elements (``?name elems``) and named
objects (``%name type ...``); add every ``RULE;ok`` rule to every chain of every table, one
``nft`` call per rule inside one throwaway network namespace per file (a rule the installed nft
rejects is skipped and counted); then take ``nft list ruleset`` and ``nft -j list ruleset``.
Per listed rule, with R = ``from_json`` of that rule's JSON:

- text: R rendered in its table's context (family, and the table's listed sets and maps, whose
  data types type a map statement's constants) equals the rule's line in the text listing;
- json: ``to_json(R, ...)`` equals the rule's JSON object (handles ignored).

Listings are cached under /tmp (keyed by the nft version and the generated input), never in the
repository; ``--no-cache`` ignores the cache.

``--upstream`` runs the same per-rule checks, without a kernel, over the rules of upstream's
shell-test dumps (``.json-nft`` and ``.nft``), which nft 1.1.x wrote: rendering targets that
version, so this guards the 1.1 output on a machine with an older nft.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nftkit
from nftkit.render.context import RenderContext
from nftkit.render.text import TextRenderer
from tests._oracle import CORPUS, NFT, normalize_json

__all__ = [
    "Loaded",
    "RuleCase",
    "RuleResult",
    "TFile",
    "check_rule",
    "load_tfile",
    "parse_tfile",
    "rule_cases",
    "tfiles",
    "upstream_cases",
    "upstream_dumps",
]

CACHE = Path(tempfile.gettempdir()) / "nftkit-rules-cache"
_RESULT = re.compile(r"^(.*?);(ok|fail)(?:;(.*))?$")


@dataclass
class TFile:
    """What a ``.t`` file declares: tables, chain specs, sets, elements, objects and rules."""

    path: Path
    tables: list[tuple[str, str, list[str]]] = field(default_factory=list)
    chain_specs: dict[str, str] = field(default_factory=dict)
    setup: list[str] = field(default_factory=list)  # "set"/"element"/"object" commands, %s=fam tbl
    rules: list[str] = field(default_factory=list)


def tfiles() -> list[Path]:
    """Every upstream rule-level test file, found by glob (empty when ../shared is absent)."""
    return sorted(CORPUS.glob("py/*/*.t"))


def _split_result(line: str) -> tuple[str, str] | None:
    m = _RESULT.match(line)
    if not m:
        return None
    return m.group(1).strip(), m.group(2)


def _set_command(spec: str) -> str:
    # "!set1 type ipv4_addr timeout 60s" -> "set %s set1 { type ipv4_addr; timeout 60s; }"
    name, _, rest = spec.partition(" ")
    kind = "map" if " : " in rest else "set"
    body = re.sub(r"\s+(flags|timeout|size|policy)\s", r"; \1 ", rest.strip())
    return f"{kind} %s {name} {{ {body}; }}"


def _object_command(spec: str) -> str | None:
    # "%qt1 type quota 25 mbytes" -> "quota %s qt1 { 25 mbytes }"
    name, _, rest = spec.partition(" ")
    words = rest.split()
    if not words or words[0] != "type" or len(words) < 2:
        return None
    n = 3 if words[1] == "ct" else 2
    kind = " ".join(words[1:n])
    body = " ".join(words[n:])
    if not body:
        return f"{kind} %s {name}"
    if not body.startswith("{"):
        body = "{ " + body + " }"
    return f"{kind} %s {name} {body}"


def parse_tfile(path: Path) -> TFile:
    """Read a ``.t`` file (format: the corpus README)."""
    t = TFile(path)
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("-"):
            continue
        if line.startswith(":"):
            name, _, spec = line[1:].partition(";")
            t.chain_specs[name.strip()] = spec.strip()
        elif line.startswith("*"):
            fam, table, chains = line[1:].split(";")[:3]
            t.tables.append((fam.strip(), table.strip(), [c.strip() for c in chains.split(",")]))
        else:
            res = _split_result(line)
            if res is None or res[1] != "ok":
                continue
            text, _ = res
            if line.startswith("!"):
                t.setup.append(_set_command(text[1:]))
            elif line.startswith("?"):
                name, _, elems = text[1:].partition(" ")
                t.setup.append(f"element %s {name} {{ {elems} }}")
            elif line.startswith("%"):
                cmd = _object_command(text[1:])
                if cmd is not None:
                    t.setup.append(cmd)
            else:
                t.rules.append(text)
    return t


@dataclass
class RuleCase:
    """One rule as loaded into one chain, with what nft listed for it (None: rejected)."""

    tfile: str
    family: str
    table: str
    chain: str
    source: str
    text: str | None = None
    json: dict[str, Any] | None = None
    #: The nft version that printed the listing (None: the installed nft).
    version: str | None = None
    #: The listed sets and maps of the rule's table (``{"set": ...}`` objects): a map
    #: statement's constants print by the map's data type.
    sets: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Loaded:
    cases: list[RuleCase]
    rejected: int
    problems: list[str]


_SCRIPT = r"""
cd "$1"
for f in setup*.nft; do [ -e "$f" ] || continue; {nft} -f "$f" 2>>setup.err || true; done
i=0
while [ -e "r$i.nft" ]; do
  {nft} -f "r$i.nft" 2>/dev/null || echo "$i" >> rejected
  i=$((i+1))
done
{nft} list ruleset > out.nft
{nft} -j list ruleset > out.json
"""


def _nft_version() -> str:
    return subprocess.run([NFT, "--version"], capture_output=True, text=True).stdout.strip()


def _inputs(t: TFile) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """(setup files, rule placements (family, table, chain, rule))."""
    setup: list[str] = []
    placements: list[tuple[str, str, str, str]] = []
    for fam, table, chains in t.tables:
        lines = [f"add table {fam} {table}"]
        for c in chains:
            spec = t.chain_specs.get(c)
            lines.append(f"add chain {fam} {table} {c}" + (f" {{ {spec}; }}" if spec else ""))
        setup.append("\n".join(lines) + "\n")
        setup += [f"add {cmd.replace('%s', f'{fam} {table}', 1)}\n" for cmd in t.setup]
        for rule in t.rules:
            placements += [(fam, table, c, rule) for c in chains]
    return setup, placements


def _run(setup: list[str], placements: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for i, s in enumerate(setup):
            (d / f"setup{i:03d}.nft").write_text(s)
        for i, (fam, table, chain, rule) in enumerate(placements):
            (d / f"r{i}.nft").write_text(f"add rule {fam} {table} {chain} {rule}\n")
        r = subprocess.run(["unshare", "-n", "sh", "-c", _SCRIPT.format(nft=NFT), "sh", tmp],
                           capture_output=True, text=True,
                           env={**os.environ, "LC_ALL": "C", "TZ": "UTC"})
        if r.returncode != 0 or not (d / "out.json").exists():
            return {"error": r.stderr.strip() or f"exit {r.returncode}"}
        rej = d / "rejected"
        return {
            "text": (d / "out.nft").read_text(),
            "json": json.loads((d / "out.json").read_text()),
            "rejected": [int(x) for x in rej.read_text().split()] if rej.exists() else [],
            "setup_err": (d / "setup.err").read_text() if (d / "setup.err").exists() else "",
        }


def text_rules(listing: str) -> dict[tuple[str, str, str], list[str]]:
    """The rule lines of each chain in ``nft list ruleset`` text (multi-line rules joined)."""
    out: dict[tuple[str, str, str], list[str]] = {}
    fam = table = ""
    rules: list[str] | None = None
    for line in listing.splitlines():
        if line.startswith("table "):
            _, fam, table, _ = line.split(" ", 3)
        elif line.startswith("\tchain "):
            rules = out.setdefault((fam, table, line.split()[1]), [])
        elif line == "\t}":
            rules = None
        elif rules is not None and line.startswith("\t\t"):
            body = line[2:]
            if rules and (line.startswith("\t\t\t") or body == "}"):
                rules[-1] += "\n" + body
            elif not (body.startswith("type ") and " hook " in body) and \
                    not body.startswith("comment "):
                rules.append(body)
    return out


def load_tfile(path: Path, *, cache: bool = True) -> Loaded:
    """Load a ``.t`` file's rules with the installed nft (or the /tmp cache) and pair them."""
    t = parse_tfile(path)
    setup, placements = _inputs(t)
    key = hashlib.sha256(json.dumps([_nft_version(), setup, placements]).encode()).hexdigest()
    cached = CACHE / f"{key}.json"
    if cache and cached.exists():
        data = json.loads(cached.read_text())
    else:
        data = _run(setup, placements)
        if "error" not in data:
            CACHE.mkdir(exist_ok=True, mode=0o700)
            cached.write_text(json.dumps(data))
    rel = str(path.relative_to(CORPUS / "py"))
    if "error" in data:
        return Loaded([], 0, [f"{rel}: namespace run failed: {data['error']}"])
    rejected = set(data["rejected"])
    texts = text_rules(data["text"])
    jsons: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    sets = _sets_by_table(normalize_json(data["json"]))
    for item in normalize_json(data["json"]):
        if "rule" in item:
            body = item["rule"]
            jsons.setdefault((body["family"], body["table"], body["chain"]), []).append(body)
    cases: list[RuleCase] = []
    problems: list[str] = []
    by_chain: dict[tuple[str, str, str], list[RuleCase]] = {}
    for i, (fam, table, chain, rule) in enumerate(placements):
        if i not in rejected:
            by_chain.setdefault((fam, table, chain), []).append(
                RuleCase(rel, fam, table, chain, rule, sets=sets.get((fam, table), [])))
    for where, cs in by_chain.items():
        tx, js = texts.get(where, []), jsons.get(where, [])
        if len(tx) != len(cs) or len(js) != len(cs):
            problems.append(f"{rel} {' '.join(where)}: {len(cs)} rules loaded, listed "
                            f"{len(tx)} text / {len(js)} json: chain skipped")
            continue
        for c, tline, jrule in zip(cs, tx, js, strict=True):
            c.text, c.json = tline, jrule
            cases.append(c)
    return Loaded(cases, len(rejected), problems)


def rule_cases(path: Path, *, cache: bool = True) -> list[RuleCase]:
    return load_tfile(path, cache=cache).cases


@dataclass
class RuleResult:
    text: str | None  # None: passes, else the problem
    json: str | None


def _doc(c: RuleCase, sets: bool = True) -> dict[str, Any]:
    assert c.json is not None
    return {"nftables": [
        {"table": {"family": c.family, "name": c.table}},
        *(c.sets if sets else []),
        {"chain": {"family": c.family, "table": c.table, "name": c.chain}},
        {"rule": c.json},
    ]}


def _sets_by_table(items: list[Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in items:
        for key in ("set", "map"):
            if key in item:
                out.setdefault((item[key]["family"], item[key]["table"]), []).append(item)
    return out


def check_rule(c: RuleCase) -> RuleResult:
    """The text and JSON checks for one listed rule."""
    assert c.json is not None and c.text is not None
    try:
        try:
            rs = nftkit.from_json(_doc(c))
        except nftkit.NftkitError:  # a set nftkit cannot read: check the rule without it
            rs = nftkit.from_json(_doc(c, sets=False))
        table = rs.tables[0]
        rule = table.chains[0].rules[0]
    except Exception as exc:  # a report, not a test: show any failure
        msg = f"from_json: {type(exc).__name__}: {exc}"
        return RuleResult(msg, msg)
    text_p = json_p = None
    try:
        ctx = RenderContext(version=c.version, family=c.family, table=c.table, chain=c.chain,
                            sets={s.name: s for s in table.sets})
        got = TextRenderer(ctx).rule(rule)
        if got != c.text:
            text_p = f"  nft:    {c.text}\n  nftkit: {got}"
    except Exception as exc:
        text_p = f"to_text: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-2)}"
    try:
        got_j = nftkit.to_json(rule, family=c.family, table=c.table, chain=c.chain,
                               version=c.version)
        want = {"rule": c.json}
        if normalize_json({"nftables": [got_j]}) != [want]:
            a = json.dumps(want["rule"]["expr"], indent=1).splitlines(True)
            b = json.dumps(normalize_json({"nftables": [got_j]})[0].get("rule", got_j).get(
                "expr"), indent=1).splitlines(True)
            json_p = "".join(difflib.unified_diff(a, b, "nft", "nftkit", n=1)) or \
                f"  nft:    {want}\n  nftkit: {got_j}"
    except Exception as exc:
        json_p = f"to_json: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-2)}"
    return RuleResult(text_p, json_p)


#: The nft release that wrote upstream's shell-test dumps (one commit after v1.1.4).
UPSTREAM_VERSION = "1.1.4"


def upstream_dumps() -> list[Path]:
    """Upstream shell-test dumps that have both a text and a JSON form."""
    return [p for p in sorted(CORPUS.glob("shell/testcases/**/dumps/*.json-nft"))
            if p.with_suffix(".nft").exists()]


def upstream_cases(path: Path) -> tuple[list[RuleCase], list[str]]:
    """The rules of one upstream dump (``.json-nft`` and ``.nft``, written by nft 1.1.x),
    paired by chain and position: a rule-level oracle for nft 1.1 that needs no kernel."""
    rel = str(path.relative_to(CORPUS / "shell/testcases"))
    doc = json.loads(path.read_text())
    texts = text_rules(path.with_suffix(".nft").read_text())
    jsons: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    sets = _sets_by_table(normalize_json(doc))
    for item in normalize_json(doc):
        if "rule" in item:
            body = item["rule"]
            jsons.setdefault((body["family"], body["table"], body["chain"]), []).append(body)
    cases: list[RuleCase] = []
    problems: list[str] = []
    for where, js in jsons.items():
        tx = texts.get(where, [])
        if len(tx) != len(js):
            problems.append(f"{rel} {' '.join(where)}: {len(js)} JSON rules, {len(tx)} text")
            continue
        for line, body in zip(tx, js, strict=True):
            cases.append(RuleCase(rel, *where, source=line.split(" # handle ")[0],
                                  text=line.split(" # handle ")[0], json=body,
                                  version=UPSTREAM_VERSION, sets=sets.get(where[:2], [])))
    return cases, problems


def _cause(problem: str) -> str:
    first = problem.splitlines()[0]
    if first.startswith(("from_json", "to_text", "to_json")):
        return re.sub(r"nftables\[\d+\]/rule/expr\[\d+\]", "…", first)[:110]
    return "output differs"


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    cache = "--no-cache" not in argv
    upstream = "--upstream" in argv
    pats = [a for a in argv if not a.startswith("-")]
    total = text_ok = json_ok = rejected = 0
    causes: Counter[str] = Counter()
    for path in upstream_dumps() if upstream else tfiles():
        base = CORPUS / ("shell/testcases" if upstream else "py")
        rel = str(path.relative_to(base))
        if pats and not any(p in rel for p in pats):
            continue
        if upstream:
            cases, problems = upstream_cases(path)
            loaded = Loaded(cases, 0, problems)
        else:
            loaded = load_tfile(path, cache=cache)
        rejected += loaded.rejected
        for p in loaded.problems:
            print("HARNESS", p)
        for c in loaded.cases:
            total += 1
            r = check_rule(c)
            text_ok += r.text is None
            json_ok += r.json is None
            if r.text or r.json:
                print(f"FAIL {rel} [{c.family} {c.chain}] {c.source}: "
                      f"text={'ok' if r.text is None else 'FAIL'} "
                      f"json={'ok' if r.json is None else 'FAIL'}")
                for p in (r.text, r.json):
                    if p:
                        causes[_cause(p)] += 1
                        if verbose:
                            print(p[:2500])
    if causes:
        print("\nfailures by first line:")
        for cause, n in causes.most_common(40):
            print(f"{n:6d}  {cause}")
    print(f"rules listed {total} (rejected by nft {rejected}): "
          f"text {text_ok}/{total}, json {json_ok}/{total}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
