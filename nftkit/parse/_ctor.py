"""Compiled constructors for model nodes whose other fields are already known to be valid.

The text parser's listing fast path (``_fast``) rebuilds the same few nodes hundreds of
thousands of times with one or two fields changed (``ip saddr 10.0.0.5 jump ep-5``: a
``MatchStmt`` whose ``right`` and a ``VerdictExpr`` whose ``target`` differ from the
template's). ``cls(**kwargs)`` runs every field's converter and validator again, although
the unchanged values came from a node that passed them already. ``constructor(cls, fixed,
free)`` returns a function of the free fields only that builds the same node:

- the fixed fields are set to the template node's own (converted, validated) values;
- each free field gets its converter and then its validator, in attrs' order (all fields
  set, then the validators in field order, then ``__attrs_post_init__``);
- ``__attrs_post_init__`` runs, so cross-field checks (``MatchStmt``'s wildcard rule,
  ``VerdictExpr``'s target rule, ``NatStmt``'s address rule) still see the new values.

That is the same node ``cls(**fields)`` gives, because the model's field validators look at
their own value only (they take the instance to name it in the error). A class this cannot
reproduce exactly (not a slotted attrs class, a pre-init hook, hash caching, attrs
``Converter`` objects, a free field that ``__init__`` does not take) gets ``None``, and the
caller keeps calling the class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

__all__ = ["constructor"]

def _qualifies(cls: type, free: Iterable[str]) -> bool:
    if not attrs.has(cls) or hasattr(cls, "__attrs_pre_init__"):
        return False
    fields = attrs.fields(cls)
    names = {f.name for f in fields}
    slots: set[str] = set()
    for klass in cls.__mro__:
        raw = klass.__dict__.get("__slots__", ())
        slots.update((raw,) if isinstance(raw, str) else raw)
    slots.discard("__weakref__")
    if slots != names:  # e.g. a cached-hash slot the generated __init__ fills
        return False
    by_name = {f.name: f for f in fields}
    for name in free:
        f = by_name.get(name)
        if f is None or not f.init or isinstance(f.converter, attrs.Converter):
            return False
    return True


def constructor(cls: type, fixed: Mapping[str, Any], free: tuple[str, ...]
                ) -> Callable[..., Any] | None:
    """A function ``make(*values_of_free)`` equal to ``cls(**fixed, **dict(zip(free, values)))``
    for a ``fixed`` that is the field values of a valid instance (see the module docstring);
    None when ``cls`` cannot be built this way."""
    if not _qualifies(cls, free):
        return None
    fields = attrs.fields(cls)
    missing = [f.name for f in fields if f.name not in free and f.name not in fixed]
    if missing:
        return None
    ns: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    args = [f"v{i}" for i in range(len(free))]
    arg_of = dict(zip(free, args, strict=True))
    body = []
    for f in fields:  # converters first: a failing converter leaves no half-built node
        if f.name in arg_of and f.converter is not None:
            ns[f"_c_{f.name}"] = f.converter
            body.append(f"    {arg_of[f.name]} = _c_{f.name}({arg_of[f.name]})")
    body.append("    o = _new(_cls)")
    for f in fields:
        # the slot's own setter (what attrs' __init__ does through object.__setattr__)
        ns[f"_s_{f.name}"] = getattr(cls, f.name).__set__
        if f.name in arg_of:
            body.append(f"    _s_{f.name}(o, {arg_of[f.name]})")
        else:
            ns[f"_k_{f.name}"] = fixed[f.name]
            body.append(f"    _s_{f.name}(o, _k_{f.name})")
    for f in fields:
        if f.name in arg_of and f.validator is not None:
            ns[f"_v_{f.name}"] = f.validator
            ns[f"_a_{f.name}"] = f
            body.append(f"    _v_{f.name}(o, _a_{f.name}, {arg_of[f.name]})")
    if hasattr(cls, "__attrs_post_init__"):
        body.append("    o.__attrs_post_init__()")
    body.append("    return o")
    src = f"def make({', '.join(args)}):\n" + "\n".join(body) + "\n"
    exec(compile(src, f"<nftkit constructor {cls.__name__}>", "exec"), ns)
    make: Callable[..., Any] = ns["make"]
    return make
