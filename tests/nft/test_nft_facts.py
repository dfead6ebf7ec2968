"""nftkit.nft holds the facts about nft; nothing else keeps a table of them.

``test_no_fact_tables_outside_nft`` scans nftkit/ for literal tables (dicts, sets, tuples,
lists of constants) with 4 or more strings that ``nftkit.nft`` knows (datatype names,
symbols, selector fields, families, units, object kinds); the other tests check that the
facts agree with each other and with the model.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nftkit.model import enums, expressions, objects, statements
from nftkit.model.sets import OBJECT_TYPES
from nftkit.nft import datatypes, families, releases, selectors, symbols, units
from nftkit.nft import objects as kinds

PACKAGE = Path(__file__).resolve().parents[2] / "nftkit"

#: Literal tables outside nftkit/nft that are not nft fact tables, by (file, the name they
#: are assigned to or the function they are in), each with the reason.
ALLOWED: dict[tuple[str, str], str] = {
    # what a strategy draws: a choice of values, not the list of what nft has
    ("testing.py", "match_stmts"): "protocols a strategy draws",
    ("testing.py", "_keys"): "protocols a strategy draws for inet_proto keys",
    ("testing.py", "_verdicts"): "verdicts a strategy draws",
}


def _vocabulary() -> frozenset[str]:
    """Every string of the fact tables (not the reserved words: those are every word)."""
    words: set[str] = set()

    def add(value: Any) -> None:
        if isinstance(value, str):
            words.add(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                add(k)
                add(v)
        elif isinstance(value, (tuple, list, set, frozenset)):
            for v in value:
                add(v)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                add(getattr(value, f.name))

    for module in (datatypes, symbols, selectors, families, units, kinds):
        for name in module.__all__:
            value = getattr(module, name)
            if not callable(value) or isinstance(value, (dict, frozenset)):
                add(value)
    add(tuple(datatypes.DATATYPES))
    return frozenset(w for w in words if not w.startswith("/"))


_ARITHMETIC = (ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop)


def _constant_strings(node: ast.AST) -> list[str] | None:
    """The strings of a literal table, or None when ``node`` is not one (a dict display with
    computed values builds output; it is code, not a table)."""
    if isinstance(node, ast.Dict):
        items = [k for k in node.keys if k is not None] + list(node.values)
    elif isinstance(node, (ast.Set, ast.Tuple, ast.List)):
        items = list(node.elts)
    else:
        return None
    out: list[str] = []
    for item in items:
        if isinstance(item, ast.Constant):
            if isinstance(item.value, str):
                out.append(item.value)
        elif isinstance(item, (ast.Dict, ast.Set, ast.Tuple, ast.List)):
            inner = _constant_strings(item)
            if inner is None:
                return None
            out += inner
        elif not all(isinstance(n, _ARITHMETIC) for n in ast.walk(item)):
            return None  # a computed value (``1024**2`` is still a constant)
    return out


def _owners(tree: ast.Module) -> dict[ast.AST, str]:
    """node -> the name of the function it is in, or of the module-level name assigned."""
    owner: dict[ast.AST, str] = {}

    def visit(node: ast.AST, name: str) -> None:
        for child in ast.iter_child_nodes(node):
            here = name
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                here = name or child.name
            elif isinstance(child, (ast.Assign, ast.AnnAssign)) and not name:
                # (``__all__`` names classes: not facts)
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                here = ", ".join(t.id for t in targets if isinstance(t, ast.Name))
            owner[child] = here
            visit(child, here)

    visit(tree, "")
    return owner


def _tables() -> Iterator[tuple[str, str, int, list[str]]]:
    vocabulary = _vocabulary()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("nft/"):
            continue
        tree = ast.parse(path.read_text())
        owners = _owners(tree)
        for node in ast.walk(tree):
            strings = _constant_strings(node)
            if strings is None:
                continue
            known = sorted({s for s in strings if s in vocabulary})
            if len(known) >= 4 and owners.get(node) != "__all__":
                yield rel, owners.get(node, ""), getattr(node, "lineno", 0), known


def test_no_fact_tables_outside_nft() -> None:
    found = [f"{rel}:{line} ({owner}): {known}"
             for rel, owner, line, known in _tables()
             if (rel, owner) not in ALLOWED]
    assert not found, "tables of nft facts outside nftkit/nft:\n" + "\n".join(found)


def test_allow_list_is_used() -> None:
    used = {(rel, owner) for rel, owner, _line, _known in _tables()}
    assert set(ALLOWED) <= used, f"stale entries: {set(ALLOWED) - used}"


def test_nft_imports_nothing_else_from_nftkit() -> None:
    for path in (PACKAGE / "nft").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                assert node.module == "errors", f"{path.name} imports ..{node.module}"
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert not node.module.startswith("nftkit") or node.module == "nftkit.errors"


# --- consistency of the facts --------------------------------------------------------------


def _known(name: str) -> bool:
    return name in datatypes.DATATYPES


def test_every_selector_has_a_known_datatype() -> None:
    tables = [selectors.META, selectors.CT, selectors.RT, selectors.SOCKET, selectors.FIB,
              selectors.EXTHDR, *selectors.PAYLOAD.values()]
    for table in tables:
        for key, name in table.items():
            assert _known(name), f"{key}: unknown datatype {name}"


def test_netlink_encodings_name_known_selectors() -> None:
    for proto, field in selectors.PAYLOAD_NETLINK:
        assert field in selectors.PAYLOAD[proto]
    for proto, (_desc, fields) in selectors.PAYLOAD_UDATA.items():
        assert set(fields) <= set(selectors.PAYLOAD[proto])
    assert set(selectors.META_NETLINK) <= set(selectors.META)
    assert set(selectors.CT_NETLINK) <= set(selectors.CT)
    assert set(selectors.FIB_NETLINK) <= set(selectors.FIB)
    for key, (_number, bits, order) in {**selectors.META_NETLINK, **selectors.CT_NETLINK,
                                         **selectors.FIB_NETLINK}.items():
        assert bits % 8 == 0 and order in ("big", "host"), key
    for (proto, field), (_base, _offset, bits) in selectors.PAYLOAD_NETLINK.items():
        dt = datatypes.DATATYPES[selectors.payload_datatype(proto, field)]
        assert dt.bits in (0, bits), (proto, field)


def test_netlink_datatypes_are_datatypes() -> None:
    for name in datatypes.NETLINK:
        alias = {v: k for k, v in datatypes.NETLINK_NAMES.items()}.get(name, name)
        assert _known(alias), name
        assert datatypes.NETLINK[name][2] in (datatypes.BIG, datatypes.HOST, datatypes.NONE)


def test_symbol_tables_belong_to_symbolic_datatypes() -> None:
    for name in (*symbols.SYMBOLS, *symbols.INPUT_SYMBOLS, *symbols.SYSTEM_TABLES):
        assert _known(name), name
        assert datatypes.DATATYPES[name].kind in ("symbol", "symhex", "qsymbol", "dec")
    for name in datatypes.BITMASKS:
        values = symbols.SYMBOLS[name].values()
        assert all(v and v & (v - 1) == 0 for v in values), f"{name}: not single bits"
    for name in (*datatypes.NUMERIC_RANGES, *datatypes.FREE, *datatypes.DESCRIPTIONS,
                 *datatypes.FIVE_PER_LINE, *datatypes.TWO_PER_LINE):
        assert _known(name) or name in ("day_time", "classid"), name


def test_selector_tables_agree_with_bitmasks() -> None:
    for kind, key in selectors.BITMASK_SELECTORS:
        table = selectors.CT if kind == "ct" else selectors.PAYLOAD[kind]
        assert table[key] in datatypes.BITMASKS | {"ct_label"}


def test_model_enums_spell_the_facts() -> None:
    assert [f.value for f in enums.Family] == list(families.FAMILIES)
    assert [u.value for u in statements.TimeUnit] == list(units.TIME_UNITS)
    assert [u.value for u in statements.SizeUnit] == list(units.PRINTED_BYTE_UNITS)
    assert [lv.value for lv in statements.LogLevel] == list(symbols.LOG_LEVELS)
    assert set(symbols.NAT_FLAGS) <= {f.value for f in statements.NatFlag}
    assert [f.value for f in expressions.FibFlag] == list(symbols.FIB_FLAGS)
    assert [v.value for v in expressions.VerdictKind] == list(symbols.VERDICTS)
    assert {o.value for o in statements.ObjrefType} == set(kinds.OBJECTS)
    assert {k for k, v in kinds.OBJECTS.items() if v.model} == OBJECT_TYPES
    assert tuple(units.TIME_UNITS) == objects.LIMIT_PER
    assert set(selectors.TCP_OPTIONS) >= set(symbols.TCP_OPTION_KINDS.values())


def test_object_kinds_name_model_classes() -> None:
    from nftkit import model

    for kind in kinds.OBJECTS.values():
        if kind.model is not None:
            cls = getattr(model, kind.model)
            assert cls.json_key == kind.keyword
            assert kinds.by_model(kind.model) is kind
    assert len({k.nl_type for k in kinds.OBJECTS.values()}) == len(kinds.OBJECTS)


def test_transaction_kinds_spell_the_object_kinds() -> None:
    from nftkit.transaction import OBJECT_KINDS, Kind

    assert {k.value for k in OBJECT_KINDS} == set(OBJECT_TYPES)
    plurals = {k.plural for k in kinds.OBJECTS.values()}
    assert {k.value for k in Kind if k.value.endswith("s") and k is not Kind.RULES} <= plurals


def test_units() -> None:
    assert units.byte_unit(2048) == (2, "kbytes")
    assert units.byte_unit(1025) == (1025, "bytes")
    assert units.byte_unit(0) == (0, "bytes")
    assert units.byte_unit(1024**4) == (1024**2, "mbytes")
    assert all(units.BYTE_UNITS[u] == units.RATE_BYTE_UNITS[u] for u in units.RATE_BYTE_UNITS)
    sizes = [size for _unit, size in units.DURATION_UNITS]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] == 1
    assert dict(units.DURATION_UNITS)["s"] * units.TIME_UNITS["day"] == dict(
        units.DURATION_UNITS)["d"]


# --- release profiles ----------------------------------------------------------------------


def test_profiles_are_ordered_and_each_changes_something() -> None:
    profiles = releases.PROFILES
    assert [p.version for p in profiles] == sorted(p.version for p in profiles)
    for older, newer in itertools.pairwise(profiles):
        changed = [f.name for f in dataclasses.fields(newer)
                   if f.name != "version" and getattr(older, f.name) != getattr(newer, f.name)]
        assert changed, f"{newer.version} changes nothing"


@pytest.mark.parametrize(("version", "expected"), [
    ("1.0.2", (1, 0, 6)), ((1, 0, 6), (1, 0, 6)), ("1.0.8", (1, 0, 7)),
    ("nftables v1.0.9 (Old Doc Yak #3)", (1, 0, 9)), ("1.1", (1, 1, 0)), ("1.1.3", (1, 1, 0)),
])
def test_profile_of_a_version(version: Any, expected: tuple[int, int, int]) -> None:
    assert releases.profile(version).version == expected


def test_render_context_carries_the_profile() -> None:
    from nftkit.render.context import RenderContext

    old = RenderContext(version="1.0.6")
    assert not old.release.quoted_devices
    assert old.scoped(chain="x").release is old.release
    assert RenderContext(version="1.1.7").release.quoted_devices  # 1.1.3 does not quote
