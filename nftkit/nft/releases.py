"""What each nft release prints and accepts differently: one ``ReleaseProfile`` per release.

nft's text and JSON drift between releases: nft 1.0.6 prints ``devices = { eth0 }`` and
JSON flags as lists, nft 1.1 prints ``devices = { "eth0" }`` and a single flag as a string.
Renderers and the netlink encoder read the profile of their target release instead of
comparing versions::

    profile((1, 0, 6)).quoted_devices   # False
    profile("1.1.3").quoted_devices     # True (the 1.1.0 profile)

Each profile is the one before it with its release's changes, so each field is one
difference, and the comment on it names the release that changed it. A version between two
profiles gets the older one; a version older than every profile gets the oldest.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import re
from dataclasses import dataclass
from typing import Final

__all__ = ["DEFAULT_VERSION", "PROFILES", "ReleaseProfile", "differences", "markdown",
           "parse_version", "profile"]

Version = tuple[int, int, int]

#: Used when no nft is installed and none was chosen: the newest release nftkit knows.
DEFAULT_VERSION: Final[Version] = (1, 1, 3)


@dataclass(frozen=True, slots=True)
class ReleaseProfile:
    """How one nft release differs from the oldest one nftkit targets (1.0.6)."""

    version: Version
    # -- 1.0.7 ------------------------------------------------------------------------------
    #: ``reset rules`` is a command (1.0.6: "Unknown object passed to reset command").
    reset_rules: bool = False
    #: ``destroy table inet t`` is a command (the kernel must have it too: probed).
    destroy: bool = False
    # -- 1.0.9 ------------------------------------------------------------------------------
    #: The map statement has a JSON form (before, nft's JSON holds the statement's text).
    json_map_stmt: bool = False
    #: ``limit rate 10/second burst 5 packets``: the default burst is printed too.
    limit_default_burst: bool = False
    # -- 1.1.0 (first measured in 1.1.3: 1.0.7 to 1.0.9 not measured) -----------------------
    #: A text batch that adds a set with elements, flushes it and adds an element to it
    #: (``add set ... { elements = { a } }; flush set ...; add element ... { b }``) works.
    #: 1.1.3 segfaults on it, in ``nft -f`` and in-process through libnftables' text path
    #: (its JSON path does not); 1.0.6 and 1.1.7 do not.
    text_flush_new_set: bool = True
    #: ``icmp code`` and ``icmpv6 code`` print as names (``icmp code prot-unreachable``);
    #: 1.1.3 and 1.1.7 print numbers (``icmp code 2``), in JSON too.
    icmp_code_names: bool = True
    #: A non-bridge chain on the output hook prints a priority near -100 by the name
    #: ``dstnat`` (``priority dstnat - 10``); 1.0.6 names it on prerouting only.
    dstnat_on_output: bool = False
    #: A flag test under a mask prints as ``tcp flags syn / syn,rst``; 1.1.3 and 1.1.7 print
    #: ``tcp flags & (syn | rst) == syn`` (the mask's flags by value; JSON: ``{"|": [...]}``).
    #: nftkit renders a model read from 1.1's listing as 1.1 does; a model holding the flag
    #: list (``syn / syn,rst``) keeps the list form, so that it reads back as the same model
    #: (one canonical form is the text parser's to choose).
    flag_mask_slash: bool = True
    #: ``ct original proto-dst ssh`` (a service name without a preceding layer 4 match) is
    #: refused ("Can't parse symbolic invalid expressions"); 1.1.3 and 1.1.7 read a port.
    ct_proto_names_need_l4: bool = True
    #: A meter lists as written (``meter mt size 100 { ip daddr limit rate 10/second }``);
    #: 1.1.3 and 1.1.7 list it as a dynamic set ``mt`` and ``add @mt { ... }`` (nftkit's
    #: renderer does not target that yet).
    meter_stmt_listed: bool = True
    #: ``ip frag-off`` prints in hex (``ip frag-off & 0x1fff != 0x0``); 1.0.6: decimal.
    frag_off_hex: bool = False
    #: ``reset counter inet t nope`` (a named counter or quota missing from an existing
    #: table) fails with ENOENT; 1.1.3 and 1.1.7 succeed and reset nothing.
    reset_missing_object_fails: bool = True
    # -- 1.1.0 (changes that nft's git calls 1.0.10 were first released in 1.1.0) -----------
    #: ``tproxy to :port``: a port that is not a plain number is printed (1.0.10).
    tproxy_port_expressions: bool = False
    #: Maps, sets with timeouts or statements, concatenated keys and element comments print
    #: one element per line.
    element_per_line: bool = False
    #: ct timeout policies print durations (``established : 15s``), not seconds.
    ct_timeout_durations: bool = False
    #: A shifted ``mark`` prints as a plain hex integer (1.0.6 keeps the mark's width).
    shifted_hex_integer: bool = False
    #: JSON: a table's single flag is a bare string (``"flags": "dormant"``), not a list
    #: (1.0.6 prints the table's name there: ``json_listing_exact``). Set, fib and synproxy
    #: flags are lists in every release measured.
    json_bare_table_flag: bool = False
    #: JSON: chains of one operator are flat (``{"|": [a, b, c]}``).
    json_flat_binop: bool = False
    #: JSON: a ``typeof`` key is written as ``{"typeof": expr}`` (1.0.6: its datatype names).
    json_typeof: bool = False
    #: JSON: concatenated map data is a list (1.0.6: ``"ipv4_addr . inet_service"``).
    json_concat_map_list: bool = False
    #: JSON: the ``dynamic`` set flag is listed.
    json_dynamic_flag: bool = False
    #: JSON: a table's chains come before its objects and sets.
    json_chains_first: bool = False
    #: ``reset quotas`` in JSON honours its table (1.0.6 resets every quota).
    json_reset_quotas_table: bool = False
    #: JSON input keeps table comments and the ``owner`` flag, chain comments, ``auto-merge``
    #: and ``flags dynamic``, and reads a map with concatenated data as a map (1.0.6 drops
    #: them silently, and crashes on a rule using such a map). Set comments: below.
    json_input_exact: bool = False
    #: JSON input applies a set's or map's ``comment``. No release measured does: 1.0.6,
    #: 1.1.3 and 1.1.7 all drop it silently (``nft -j -f``, then ``nft list ruleset``).
    json_set_comments: bool = False
    #: JSON listings write a ``typeof`` map's data as its typeof expression. No release
    #: measured does: 1.0.6, 1.1.3 and 1.1.7 write its datatype name (``"map": "mark"`` for
    #: ``typeof ip saddr : meta mark``), so JSON loses what the text listing shows.
    json_typeof_map_data: bool = False
    #: JSON listings hold every statement of a set element (1.1.7); 1.0.6 and 1.1.3 list
    #: only the first (``limit ... counter`` loses its counter).
    json_element_stmts: bool = False
    #: JSON listings print what the kernel holds: table flags (1.0.6 prints them from freed
    #: memory or aborts), table and chain comments, ``auto-merge``, ``flags dynamic``.
    json_listing_exact: bool = False
    #: A batch that renames a chain and then deletes it (or its table) works. Every release
    #: measured crashes on it (segfault in nft: 1.0.6, 1.1.3 and 1.1.7 alike).
    rename_then_delete: bool = False
    #: A set's userdata holds a ``typeof`` record for a key (and map data) declared with
    #: ``type`` too: a value expression with no records; for a concatenation, the nest is
    #: left unterminated after the first part's kind (1.0.6 writes none for one type and an
    #: empty concatenation for several). Measured with GETSET under 1.1.3 and 1.1.7.
    set_udata_type_typeof: bool = False
    #: A ``constant`` set with elements is sized to them (``NFTA_SET_DESC_SIZE``); 1.1.3
    #: and 1.1.7 send no size for it.
    constant_set_size: bool = True
    # -- 1.1.7 (first measured there: 1.1.3 does not, 1.1.4 to 1.1.6 not measured) --------
    #: JSON: a ``log``, ``queue`` or NAT statement's single flag is a bare string
    #: (``"flags": "persistent"``); 1.1.7 writes a list, as for every flag set (and the
    #: table flag: ``json_bare_table_flag``).
    json_bare_stmt_flag: bool = True
    #: ``devices = { "eth0", "eth1" }``: chain device names quoted.
    quoted_devices: bool = False
    #: ``size 65535\t# count 2``: the element count follows the size (JSON: ``"count": 2``
    #: after ``"size"``).
    set_size_count: bool = False
    #: A keyword in a set block of addresses (``type ipv4_addr; elements = { 10.0.0.1, tcp }``)
    #: is read as its number (``tcp`` -> 0.0.0.6); 1.1.7 refuses it.
    set_keyword_as_number: bool = True
    #: ``nft describe ct status`` lists only the status bits a rule can test; 1.1.7 lists the
    #: kernel's internal ones too (``seq-adjust``, ...).
    ct_status_internal_symbols: bool = False
    #: ``fib daddr oif exists`` prints as ``fib daddr check exists`` (its JSON keeps
    #: ``"result": "oif"``).
    fib_check_text: bool = False
    #: nft writes the keys of a set or map declared ``typeof numgen ...`` (alone) in host
    #: order, as its userdata says and as the kernel's numgen register holds them. 1.1.7
    #: sends them big endian and reads them back in host order: ``elements = { 1 : 7 }``
    #: lists as ``16777216 : 0x00000007`` and never matches a packet (in a concatenation,
    #: as map data and in anonymous maps numgen stays host order). 1.1.3: host order;
    #: 1.1.4 to 1.1.6 not measured. nftkit's netlink path writes host order on every release.
    numgen_key_host_order: bool = True
    # -- nftkit's netlink encoder, per release ------------------------------------------------
    #: nftkit's netlink encoder writes ``x 1-5`` as two cmps as nft 1.0.6 does; the 1.1
    #: linearizer is not verified, so matches on ranges go through libnftables.
    netlink_range_cmps: bool = True
    #: nftkit's netlink encoder declares anonymous sets and maps (``{ 22, 80 }``, inline
    #: vmaps) with the flags, names and userdata nft 1.0.6 sends; not verified against the
    #: 1.1 evaluator, so such rules go through libnftables there.
    netlink_anonymous_sets: bool = True


NFT_1_0_6: Final = ReleaseProfile(version=(1, 0, 6))
NFT_1_0_7: Final = dataclasses.replace(NFT_1_0_6, version=(1, 0, 7), reset_rules=True,
                                       destroy=True)
NFT_1_0_9: Final = dataclasses.replace(
    NFT_1_0_7, version=(1, 0, 9), json_map_stmt=True, limit_default_burst=True)
NFT_1_1_0: Final = dataclasses.replace(
    NFT_1_0_9, version=(1, 1, 0), tproxy_port_expressions=True,
    element_per_line=True, ct_timeout_durations=True,
    shifted_hex_integer=True, json_bare_table_flag=True, json_flat_binop=True,
    json_typeof=True, json_concat_map_list=True, json_dynamic_flag=True,
    json_chains_first=True, json_reset_quotas_table=True, json_input_exact=True,
    json_listing_exact=True, reset_missing_object_fails=False, icmp_code_names=False,
    frag_off_hex=True, dstnat_on_output=True, text_flush_new_set=False,
    flag_mask_slash=False, ct_proto_names_need_l4=False, meter_stmt_listed=False,
    set_udata_type_typeof=True,
    constant_set_size=False,
    netlink_range_cmps=False, netlink_anonymous_sets=False)

NFT_1_1_7: Final = dataclasses.replace(
    NFT_1_1_0, version=(1, 1, 7), quoted_devices=True, set_size_count=True,
    json_bare_table_flag=False, json_bare_stmt_flag=False, fib_check_text=True,
    text_flush_new_set=True, json_element_stmts=True, set_keyword_as_number=False,
    ct_status_internal_symbols=True,
    numgen_key_host_order=False)

#: Every profile, oldest first.
PROFILES: Final = (NFT_1_0_6, NFT_1_0_7, NFT_1_0_9, NFT_1_1_0, NFT_1_1_7)


def parse_version(text: str | tuple[int, ...]) -> Version:
    """``"1.0.6"`` or ``"nftables v1.1.3 (Commodore Bullmoose #4)"`` -> ``(1, 1, 3)``."""
    if isinstance(text, tuple):
        padded = (*text, 0, 0, 0)
        return (padded[0], padded[1], padded[2])
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        raise ValueError(f"not an nft version: {text!r}")
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def profile(version: str | tuple[int, ...]) -> ReleaseProfile:
    """The profile of nft ``version``: the newest profile not newer than it."""
    v = parse_version(version)
    return _profile(v)


def _profile(v: Version) -> ReleaseProfile:
    found = PROFILES[0]
    for p in PROFILES:
        if p.version <= v:
            found = p
    return found


def _field_docs() -> dict[str, str]:
    """Each field's ``#:`` comment, read from this module's source (one line each)."""
    docs: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(ReleaseProfile).splitlines():
        text = line.strip()
        if text.startswith("#:"):
            pending.append(text[2:].strip())
            continue
        m = re.match(r"(\w+): \w+ = ", text)
        if m and pending:
            docs[m.group(1)] = " ".join(pending)
        pending = []
    return docs


def differences() -> list[tuple[str, Version | None, str]]:
    """``(field, version that changed it, description)`` for every fact, in field order;
    None where no release differs from 1.0.6 (a fact no measured release has)."""
    docs = _field_docs()
    out = []
    for f in dataclasses.fields(ReleaseProfile):
        if f.name == "version":
            continue
        changed = next((p.version for prev, p in itertools.pairwise(PROFILES)
                        if getattr(prev, f.name) != getattr(p, f.name)), None)
        out.append((f.name, changed, docs.get(f.name, "")))
    return out


def _v(version: Version) -> str:
    return ".".join(map(str, version))


def markdown() -> str:
    """The table of differences between releases in docs/releases.md, from the profiles
    (``scripts/releases.sh table`` prints it)."""
    head = ["fact", "changed in", *(_v(p.version) for p in PROFILES), "what differs"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, changed, doc in differences():
        values = ("yes" if getattr(p, name) else "no" for p in PROFILES)
        cell = doc.replace("|", "\\|")
        since = "never" if changed is None else _v(changed)
        rows.append(f"| `{name}` | {since} | " + " | ".join(values) + f" | {cell} |")
    return "\n".join(rows) + "\n"

