"""Fuzzing the text parser: mutated inputs raise only nftkit errors, each answered quickly.

Mutations of real rulesets (the project's fixtures, plus the upstream dumps when ../shared is
there): byte flips, truncation, swapped tokens, deep nesting, huge numbers, long names.
"""

from __future__ import annotations

import contextlib
import random
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nftkit
from tests._oracle import corpus_dumps

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures").glob("*.nft"))
SEEDS = [p.read_text() for p in FIXTURES] + [p.read_text() for p in corpus_dumps()[::7]]
#: "well under a second" per input, with room for a loaded CI machine
LIMIT = 1.0


@pytest.fixture(autouse=True, scope="module")
def _warm() -> None:
    nftkit.parse("table ip t { }")  # build the grammar outside the timed calls


def _answer(text: str) -> None:
    start = time.process_time()
    with contextlib.suppress(nftkit.NftkitError):
        nftkit.parse(text)
    elapsed = time.process_time() - start
    assert elapsed < LIMIT, f"{elapsed:.2f}s CPU for a {len(text)}-byte input"


def _mutate(rng: random.Random, text: str) -> str:
    kind = rng.randrange(7)
    if not text:
        return text
    if kind == 0:  # byte flips
        chars = list(text)
        for _ in range(rng.randint(1, 5)):
            i = rng.randrange(len(chars))
            chars[i] = chr(rng.choice([0, 9, 10, 32, 34, 35, 36, 44, 46, 58, 59, 64, 92, 123,
                                       125, rng.randrange(33, 127), rng.randrange(128, 0x3000)]))
        return "".join(chars)
    if kind == 1:  # truncation
        return text[: rng.randrange(len(text))]
    if kind == 2:  # swapped tokens
        words = text.split(" ")
        if len(words) > 2:
            i, j = rng.randrange(len(words)), rng.randrange(len(words))
            words[i], words[j] = words[j], words[i]
        return " ".join(words)
    if kind == 3:  # deep nesting
        depth = rng.choice([50, 500, 5000])
        return f"table ip t {{ chain c {{ tcp dport {'{ ' * depth}22{' }' * depth} }} }}"
    if kind == 4:  # huge numbers
        return text.replace("0", "9" * rng.choice([20, 40, 400]), 3)
    if kind == 5:  # long names
        return text.replace("table ip ", "table ip " + "x" * rng.choice([300, 5000]), 1)
    lines = text.splitlines()  # duplicated / dropped lines
    if lines:
        i = rng.randrange(len(lines))
        lines.insert(rng.randrange(len(lines)), lines[i])
        del lines[rng.randrange(len(lines))]
    return "\n".join(lines)


@pytest.mark.parametrize("seed", range(300))
def test_mutations_raise_only_nftkit_errors(seed: int) -> None:
    rng = random.Random(seed)
    text = SEEDS[seed % len(SEEDS)]
    for _ in range(3):
        text = _mutate(rng, text)
    _answer(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("table ip inet chain { } ; \n # $ @ \" . : , - / "
                                              "0123456789 x accept tcp dport set map define "
                                              "include = elements type flags"))
               .map(lambda s: s), max_size=300))
def test_random_token_soup(text: str) -> None:
    _answer(text)


def test_errors_are_parse_errors_with_location() -> None:
    with pytest.raises(nftkit.ParseError) as err:
        nftkit.parse("table ip t {\n\tchain c {\n\t\tip saddr 1.2.3.4 \x00\n\t}\n}\n")
    assert err.value.line == 3


# --- the CI bound of issue 12: 2,000 mutated inputs through parse, parse_script, from_json -----

#: mutated inputs per run: text ones go through ``parse`` and ``parse_script``, JSON ones
#: through ``from_json``
TEXT_INPUTS, JSON_INPUTS, CHUNK = 1400, 600, 100


def _rendered() -> list[str]:
    """nftkit's own renderings (block text and ``nft -f`` commands) of the fixtures that
    parse."""
    out = []
    for p in FIXTURES:
        try:
            rs = nftkit.parse(p.read_text())
        except nftkit.NftkitError:
            continue
        out += [nftkit.to_text(rs), nftkit.to_script(rs)]
    return out


def _json_seeds() -> list[str]:
    import json

    from tests._oracle import CORPUS

    seeds = [json.dumps(nftkit.to_json(nftkit.parse(t))) for t in _rendered()[::2]]
    seeds += [p.read_text() for p in sorted(CORPUS.glob("shell/testcases/**/dumps/*.json-nft"))
              [::9]]
    return seeds


TEXT_SEEDS = SEEDS + _rendered()


def _structural(rng: random.Random, text: str) -> str:
    """Mutations the line/byte ones above do not make: a duplicated token, a huge number,
    nesting of braces, brackets or operators."""
    kind = rng.randrange(5)
    tokens = text.split(" ")
    if kind == 0 and len(tokens) > 1:  # token duplication
        i = rng.randrange(len(tokens))
        tokens[i:i] = [tokens[i]] * rng.choice([2, 10, 200])
        return " ".join(tokens)
    if kind == 1:  # a huge number in place of one
        digits = [i for i, c in enumerate(text) if c.isdigit()]
        if digits:
            i = rng.choice(digits)
            return text[:i] + rng.choice(["9" * 40, "0x" + "f" * 40, "-1", "1e999",
                                          "18446744073709551616"]) + text[i + 1:]
    if kind == 2:  # deep nesting inside a rule
        depth = rng.choice([64, 200, 3000])
        body = rng.choice([f"{'{ ' * depth}1{' }' * depth}", f"{'( ' * depth}1{' )' * depth}",
                           " | ".join(["1"] * depth), f"{'[ ' * depth}"])
        return text.replace("accept", f"meta mark {body} accept", 1) if "accept" in text \
            else f"table ip t {{ chain c {{ meta mark {body} }} }}"
    if kind == 3:  # a line cut in half, or a block closed early
        i = rng.randrange(len(text) + 1)
        return text[:i] + rng.choice(["}", "{", '"', ";", "\n}\n}\n"]) + text[i:]
    return text[: rng.randrange(len(text) + 1)]  # truncation


def _mutated(rng: random.Random, seeds: list[str]) -> str:
    text = rng.choice(seeds)
    for _ in range(rng.randint(1, 3)):
        text = _structural(rng, text) if rng.random() < 0.5 else _mutate(rng, text)
    return text


#: ParseErrors that still come without line and column (2-4% of the mutated inputs): a
#: value the model refuses after the grammar accepted it (a name over 255 bytes, a key or
#: datatype name, a number too large), reported by the JSON-shaped decoder or the model, and
#: script commands that fail by nft's semantics (a jump to a missing chain). Everything the
#: grammar refuses has a position.
UNLOCATED = re.compile(r"is longer than \d+ bytes|number \d+ is too large|^<input>: nftables\[|"
                       r"No such file or directory|File exists|is not one of")


def _bounded(fn: object, text: str) -> BaseException | None:
    """``fn(text)``: the nftkit error it raised, or None; fails on any other exception and
    on an input that takes more than LIMIT seconds of CPU."""
    start = time.process_time()
    try:
        fn(text)  # type: ignore[operator]
        error = None
    except nftkit.NftkitError as exc:
        error = exc
    elapsed = time.process_time() - start
    assert elapsed < LIMIT, f"{elapsed:.2f}s CPU for a {len(text)}-byte input: {text[:200]!r}"
    return error


@pytest.mark.parametrize("chunk", range(TEXT_INPUTS // CHUNK))
def test_mutated_text_through_parse_and_parse_script(chunk: int) -> None:
    rng = random.Random(f"text-{chunk}")
    for _ in range(CHUNK):
        text = _mutated(rng, TEXT_SEEDS)
        for fn in (nftkit.parse, nftkit.parse_script):
            error = _bounded(fn, text)
            if isinstance(error, nftkit.ParseError):
                located = error.line is not None and error.column is not None
                assert located or UNLOCATED.search(str(error)), (
                    f"{fn.__name__}: {error} has no position; input {text[:300]!r}")
                assert "Token(" not in str(error) and "Tree(" not in str(error), str(error)


@pytest.mark.parametrize("chunk", range(JSON_INPUTS // CHUNK))
def test_mutated_json_through_from_json(chunk: int) -> None:
    seeds = _json_seeds()
    rng = random.Random(f"json-{chunk}")
    for _ in range(CHUNK):
        text = _mutated(rng, seeds)
        error = _bounded(nftkit.from_json, text)
        if error is not None:
            assert "Token(" not in str(error) and "__init__" not in str(error), str(error)
