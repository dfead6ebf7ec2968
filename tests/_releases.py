"""Other nft releases as oracles: the Debian roots that ``scripts/releases.sh build`` caches.

Each root (``$NFTKIT_RELEASES_DIR/<suite>``, default ``/var/cache/nftkit-releases``) holds one
Debian release's nft and libnftables; it shares this machine's kernel, so running its nft in a
fresh network namespace (``unshare -n chroot ROOT nft ...``) is that release against the same
nf_tables, and never touches the host's ruleset::

    for rel in cached():
        print(rel.suite, rel.version())          # bookworm 1.0.6, trixie 1.1.3, ...
        listing = rel.load_and_list("table inet t { chain c { tcp dport 22 accept; }; }")
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nftkit.nft.releases import PROFILES, ReleaseProfile, profile
from nftkit.render.context import installed_nft_version
from tests._oracle import Listing, devices_in

__all__ = ["RELEASES_DIR", "RELEASE_XFAILS", "RELEASE_XFAILS_TIMING", "SUITES", "Release",
           "applies", "cached", "installed_profile", "mark_release_xfails", "release",
           "skip_reason"]

RELEASES_DIR = Path(os.environ.get("NFTKIT_RELEASES_DIR", "/var/cache/nftkit-releases"))
#: The suites scripts/releases.sh builds, oldest first.
SUITES = ("bookworm", "trixie", "sid")
#: Written by scripts/releases.sh as a root's last step: a root without it is incomplete.
STAMP = ".nftkit-root"
_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8", "TZ": "UTC"}
_MARK = "@@nftkit-json@@"
# Input on stdin; the text listing, a marker line, then the JSON listing on stdout.
_SCRIPT = f"""
for d in "$@"; do ip link add "$d" type ifb 2>/dev/null || true; done
nft -f - || exit 3
nft list ruleset && echo {_MARK} && nft -j list ruleset
"""


@dataclass(frozen=True)
class Release:
    """One cached root: ``suite`` (bookworm, trixie, sid) at ``root``."""

    suite: str
    root: Path

    def run(self, *argv: str, input: str | None = None, timeout: float = 60,
            ) -> subprocess.CompletedProcess[str]:
        """``unshare -n chroot ROOT argv...``: a command of this release in a new namespace."""
        return subprocess.run(["unshare", "-n", "chroot", str(self.root), *argv], env=_ENV,
                              input=input, capture_output=True, text=True, timeout=timeout)

    def nft(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """This release's ``nft args...`` in a throwaway network namespace."""
        return self.run("nft", *args, input=input)

    @functools.cache  # noqa: B019 - a handful of frozen instances
    def version(self) -> tuple[int, ...]:
        """``nft --version`` as numbers, e.g. ``(1, 1, 3)``."""
        out = self.nft("--version").stdout
        m = re.search(r"v(\d+(?:\.\d+)+)", out)
        if not m:
            raise RuntimeError(f"{self.suite}: no version in {out!r}")
        return tuple(int(p) for p in m.group(1).split("."))

    def load_and_list(self, text: str, *, devices: list[str] | None = None) -> Listing:
        """Load ``text`` with this release's ``nft -f`` in a fresh namespace; both listings."""
        devs = devices_in(text) if devices is None else devices
        r = self.run("sh", "-c", _SCRIPT, "sh", *devs, input=text)
        if r.returncode != 0 or _MARK not in r.stdout:
            return Listing(False, "", None, (r.stderr or r.stdout).strip())
        listing, _, doc = r.stdout.partition(_MARK + "\n")
        return Listing(True, listing, json.loads(doc), "")


def installed_profile() -> ReleaseProfile:
    """The release profile of the nft installed here (the oldest profile without one): what
    a test asks instead of expecting one release's output."""
    return profile(installed_nft_version() or PROFILES[0].version)


def applies(spec: str, prof: ReleaseProfile | None = None) -> bool:
    """Whether a release condition holds for the installed nft (or ``prof``): ``*``
    (always), ``<1.1`` / ``>=1.1`` (its version), a release profile fact (``quoted_devices``:
    the release has it) or its negation (``!json_typeof``); several joined by commas must
    all hold. Used by the exception lists
    (tests/*_exceptions.txt) and ``RELEASE_XFAILS``."""
    have: tuple[int, ...] = (prof.version if prof is not None
                             else installed_nft_version() or PROFILES[0].version)
    given = prof
    prof = prof or installed_profile()
    spec = spec.strip()
    if spec == "*":
        return True
    if spec[0] in "<>":
        bound = tuple(int(x) for x in spec.lstrip("<>=").split("."))
        below = have[: len(bound)] < bound
        return below if spec.startswith("<") else not below
    if "," in spec:  # all of them
        return all(applies(part, given) for part in spec.split(","))
    negate = spec.startswith("!")
    name = spec.lstrip("!")
    if name not in {f.name for f in dataclasses.fields(ReleaseProfile)}:
        raise ValueError(f"not a release profile fact: {name!r} (nftkit/nft/releases.py)")
    return bool(getattr(prof, name)) != negate


#: Tests that cannot pass with some nft release, each tied to the release profile fact that
#: explains it: ``(test id prefix, condition for applies(), reason)``. Marked
#: ``xfail(strict=True)`` when the condition holds for the installed nft, so a test that
#: starts passing fails the run and its line must go. Keep this list short; the release
#: matrix (docs/releases.md) reports it.
RELEASE_XFAILS: tuple[tuple[str, str, str], ...] = (
    ("tests/backend/test_fake_messages.py::test_failing_transactions_fail_alike",
     "!reset_missing_object_fails",
     "nft >= 1.1 resets named quotas and counters of a missing table without an error (4 of "
     "273 failing transactions under 1.1.3); the fake still reports NotFoundError"),
    ("tests/semantics/test_semantics.py::test_parse_agrees_with_nft_f[objects]",
     "!reset_missing_object_fails",
     "nft >= 1.1 -f resets a named counter of a table the same script adds without an error "
     "(resets run before the batch; a missing object is a no-op): the command engine still "
     "refuses the reset against a table that does not exist yet"),
    ("tests/semantics/test_semantics.py::test_parse_agrees_with_nft_f[reset-missing]",
     "!reset_missing_object_fails",
     "as [objects]: nft >= 1.1 -f accepts 'reset counter inet t nope' for a table the script "
     "adds; the command engine refuses it"),
    ("tests/semantics/test_semantics.py::test_parse_agrees_with_nft_f[flush-set]",
     "!text_flush_new_set",
     "nft 1.1.3 -f segfaults on add set with elements + flush set + add element"),
    ("tests/test_hostile_strings.py::test_hostile_strings_in_every_field", "!meter_stmt_listed",
     "the test's base ruleset has a meter, which nft >= 1.1 lists as a set and 'add @mt', so "
     "every case reads back altered whatever the string (the renderer does not target it)"),
    ("tests/parse/test_parse.py::test_fixtures_parse_and_round_trip[firewalld.nft]",
     "fib_check_text",
     "nft 1.1.7 prints 'fib ... oif missing' as 'fib ... check missing' and so does the "
     "renderer; the parser reads 'check' as a result of its own, so the model differs (one "
     "canonical result is the parser rewrite's to choose)"),
    # the text parser (being rewritten by another helper) still reads as nft 1.0.6 does:
    ("tests/parse/test_parse_values.py::test_rule_accepted_as_nft_does[ct original proto-dst ssh]",
     "!ct_proto_names_need_l4",
     "nft >= 1.1 reads 'ct original proto-dst ssh' as a port; the parser's list of known "
     "differences says nft refuses it (1.0.6)"),
    ("tests/parse/test_parse_values.py::test_set_elements_accepted_as_nft_does[table inet t "
     "{ set s { type ipv4_addr; elements = { 10.0.0.1, tcp }; }; }]", "!set_keyword_as_number",
     "nft 1.1.7 refuses a keyword among addresses, as nftkit does; the parser's list of known "
     "differences says nft reads it as a number (1.0.6, 1.1.3)"),
    ("tests/parse/test_parse_values.py::test_symbols_match_nft_describe[ct status-ct_status]",
     "ct_status_internal_symbols",
     "nft 1.1.7 describes internal ct status bits (seq-adjust, ...) nftkit's table lacks"),
    ("tests/parse/test_parse_values.py::test_symbols_match_nft_describe[icmp code-icmp_code]",
     "!icmp_code_names", "nft >= 1.1 describes icmp_code without its symbol table"),
    ("tests/parse/test_parse_values.py::test_symbols_match_nft_describe[icmpv6 code-icmpv6_code]",
     "!icmp_code_names", "nft >= 1.1 describes icmpv6_code without its symbol table"),
    ("tests/parse/test_parse_rule_cases.py::test_source_and_listing_agree_with_nft"
     "[symbolic-ranges:icmpv6 code 3-66]", "!icmp_code_names",
     "nft >= 1.1 writes icmp codes as numbers in JSON too; nftkit's text renderer follows "
     "icmp_code_names, its JSON renderer not yet"),
    *((f"tests/parse/test_parse_numeric.py::test_listing_flag_parses_to_same_model[{flag}]",
       ">=1.1",
       f"the parser reads some listings nft >= 1.1 prints with {flag} into another model "
       "than the plain listing (typeof_sets_0, type_set_symbol, merge_stmts_vmap, ...); the "
       "test's exception list was recorded with 1.0.6 only") for flag in ("-n", "-S", "-s")),
    ("tests/model/test_expressions.py::test_expressions_print_as_the_installed_nft_lists_them",
     "!flag_mask_slash",
     "nft >= 1.1 lists 'tcp flags syn / syn,ack' as 'tcp flags & (syn | ack) == syn' "
     "(JSON {\"|\": [...]}); the model keeps the flag list apart from the OR, and renders "
     "each as itself so that both read back the same"),
    ("tests/parse/test_parse_values.py::test_values_normalized_as_nft_lists_them",
     "!flag_mask_slash",
     "the parser reads nft 1.1's 'tcp flags & (syn | rst) == syn' as an OR chain, not the "
     "flag list 'syn / syn,rst' gives"),
)
#: Tests whose outcome under a release depends on timing or on what hypothesis draws: xfail
#: without strict (each reason says which).
RELEASE_XFAILS_TIMING: tuple[tuple[str, str, str], ...] = (
    ("tests/backend/test_differential.py::test_fake_agrees_with_kernel", "destroy",
     "hypothesis draws: with native destroy (nft >= 1.0.7) the kernel refuses 'destroy rule' "
     "in a table the same batch deletes or flushes; the fake's command engine accepts it"),
    ("tests/conformance/test_corpus_rules.py::test_rules[text-any/last.t]", ">=1.1",
     "nft >= 1.1 prints 'last used' to the millisecond; its text and JSON listings are taken "
     "milliseconds apart, so they rarely agree"),
)


def mark_release_xfails(items: list[Any]) -> None:
    """Mark the collected tests ``RELEASE_XFAILS`` names for the installed nft (conftest)."""
    import pytest

    active = [(prefix, reason, True) for prefix, spec, reason in RELEASE_XFAILS
              if applies(spec)]
    active += [(prefix, reason, False) for prefix, spec, reason in RELEASE_XFAILS_TIMING
               if applies(spec)]
    if not active:
        return
    for item in items:
        for prefix, reason, strict in active:
            if item.nodeid.startswith(prefix):
                item.add_marker(pytest.mark.xfail(reason=reason, strict=strict))


def skip_reason() -> str | None:
    """None when release roots can be used here (root, unshare, chroot), else why not."""
    if os.geteuid() != 0:
        return "needs root (chroot and network namespaces)"
    for tool in ("unshare", "chroot"):
        if not shutil.which(tool):
            return f"needs {tool} (util-linux, coreutils)"
    return None


def release(suite: str) -> Release | None:
    """The cached, complete root of ``suite``, or None."""
    root = RELEASES_DIR / suite
    return Release(suite, root) if (root / STAMP).is_file() else None


def cached() -> list[Release]:
    """Every cached, complete root, oldest release first."""
    return [r for r in map(release, SUITES) if r is not None]
