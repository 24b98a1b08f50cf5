"""Checksum validators (scanner/ruleset/checksums.py): GitHub's and npm's CRC32-in-base62 scheme."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tokens import TokenFactory

from scanner.ruleset.checksums import (
    BASE62,
    CHECKSUMS,
    base62_encode,
    crc32_base62,
    github_crc32,
    npm_crc32,
)

GITHUB_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")
base62_text = st.text(alphabet=BASE62, min_size=30, max_size=30)
seeds = st.integers(min_value=0, max_value=2**32)


def base62_decode(text: str) -> int:
    number = 0
    for char in text:
        number = number * 62 + BASE62.index(char)
    return number


def with_checksum(prefix: str, body: str) -> str:
    return prefix + body + crc32_base62(body)


def replace_char(text: str, index: int, offset: int) -> str:
    """``text`` with the character at ``index`` replaced by another base62 character."""
    old = BASE62.index(text[index])
    return text[:index] + BASE62[(old + offset) % 62] + text[index + 1 :]


def test_registry_names_the_validators() -> None:
    assert CHECKSUMS["github-crc32"] is github_crc32
    assert CHECKSUMS["npm-crc32"] is npm_crc32


@given(seeds, st.sampled_from(GITHUB_PREFIXES))
def test_every_generated_github_token_validates(seed: int, prefix: str) -> None:
    token = TokenFactory(seed).github(prefix)
    assert len(token) == 40
    assert github_crc32(token)


@given(seeds)
def test_every_generated_npm_token_validates(seed: int) -> None:
    token = TokenFactory(seed).npm()
    assert token.startswith("npm_") and len(token) == 40
    assert npm_crc32(token)


@given(seeds)
def test_factory_invalid_tokens_are_rejected(seed: int) -> None:
    factory = TokenFactory(seed)
    assert not github_crc32(factory.github(valid=False))
    assert not npm_crc32(factory.npm(valid=False))


@given(base62_text, st.sampled_from(GITHUB_PREFIXES), st.integers(0, 5), st.integers(1, 61))
def test_changing_one_checksum_character_fails(body: str, prefix: str, index: int, offset: int) -> None:
    token = with_checksum(prefix, body)
    assert github_crc32(token)
    checksum_at = len(prefix) + 30 + index
    assert not github_crc32(replace_char(token, checksum_at, offset))
    npm_token = with_checksum("npm_", body)
    assert npm_crc32(npm_token)
    assert not npm_crc32(replace_char(npm_token, 4 + 30 + index, offset))


@given(base62_text, st.sampled_from((*GITHUB_PREFIXES, "npm_")), st.integers(0, 29), st.integers(1, 61))
def test_changing_one_body_character_fails(body: str, prefix: str, index: int, offset: int) -> None:
    token = with_checksum(prefix, body)
    changed = replace_char(token, len(prefix) + index, offset)
    # CRC32 detects every error burst of up to 32 bits, so a one-byte change always changes the checksum.
    validator = npm_crc32 if prefix == "npm_" else github_crc32
    assert validator(token)
    assert not validator(changed)


@given(st.integers(min_value=0, max_value=2**64), st.integers(min_value=0, max_value=16))
def test_base62_round_trips_and_is_zero_padded(number: int, width: int) -> None:
    encoded = base62_encode(number, width)
    assert base62_decode(encoded) == number
    assert len(encoded) >= width
    assert set(encoded) <= set(BASE62)
    if number:
        unpadded = encoded.lstrip("0")
        assert len(encoded) == max(width, len(unpadded))
        assert base62_encode(number, 0) == unpadded


def test_base62_known_values() -> None:
    assert base62_encode(0, 6) == "000000"
    assert base62_encode(0, 0) == ""
    assert base62_encode(61, 1) == "z"
    assert base62_encode(62, 1) == "10"
    assert base62_encode(62, 4) == "0010"
    assert base62_encode(2**32 - 1, 6) == "4gfFC3"  # the largest CRC32 still fits in 6 characters


@given(base62_text)
def test_crc32_base62_is_six_characters(body: str) -> None:
    checksum = crc32_base62(body)
    assert len(checksum) == 6
    assert base62_decode(checksum) == zlib.crc32(body.encode())


@pytest.mark.parametrize("prefix", GITHUB_PREFIXES)
def test_each_github_prefix_is_accepted(prefix: str) -> None:
    assert github_crc32(TokenFactory(7).github(prefix))


@pytest.mark.parametrize("prefix", ["ghx_", "GHP_", "gh_p", "ghp-", "npm_", "ghpp", "xghp"])
def test_other_prefixes_are_rejected(prefix: str) -> None:
    body = TokenFactory(7).github("")
    assert not github_crc32(prefix + body)


def test_npm_validator_needs_the_npm_prefix() -> None:
    body = TokenFactory(3).github("")
    assert npm_crc32("npm_" + body)
    assert not npm_crc32("ghp_" + body)
    assert not npm_crc32("NPM_" + body)


@given(base62_text, st.sampled_from(GITHUB_PREFIXES), st.integers(1, 5))
def test_wrong_length_is_rejected(body: str, prefix: str, cut: int) -> None:
    token = with_checksum(prefix, body)
    assert not github_crc32(token[:-cut])  # too short
    assert not github_crc32(token + "A" * cut)  # too long
    # Still too long when the extra characters sit before a checksum that matches the longer body.
    longer = body + "A" * cut
    assert not github_crc32(prefix + longer + crc32_base62(longer))


@given(base62_text, st.integers(0, 35), st.sampled_from(list("_-+/=. é\u0661\x00")))
def test_characters_outside_base62_are_rejected(body: str, index: int, bad: str) -> None:
    token = with_checksum("ghp_", body)
    broken = token[: 4 + index] + bad + token[4 + index + 1 :]
    assert not github_crc32(broken)
    assert not npm_crc32("npm_" + broken[4:])
