"""Fuzzing the text parser: mutated inputs raise only nftkit errors, each answered quickly.

Mutations of real rulesets (the project's fixtures, plus the upstream dumps when ../shared is
there): byte flips, truncation, swapped tokens, deep nesting, huge numbers, long names.
"""

from __future__ import annotations

import contextlib
import random
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
