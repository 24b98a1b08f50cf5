"""The rule specs' cache form (``scanner.ruleset.speccache``): the built-in rules come back equal to what the rule
files give, and anything but exactly the rows it writes (another type anywhere, a code object, another layout,
damaged bytes) is a miss, never a spec."""

from __future__ import annotations

import dataclasses
import marshal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.ruleset.load import builtin_rules_dir, load_rule_files, rule_files
from scanner.ruleset.model import RuleSpec
from scanner.ruleset.speccache import ROW_FORMAT, entry_name, specs_from_bytes, specs_to_bytes

NAMES = tuple(field.name for field in dataclasses.fields(RuleSpec))


@pytest.fixture(scope="module")
def builtin_specs() -> list[RuleSpec]:
    return load_rule_files(rule_files(builtin_rules_dir()))


def rows_of(specs: list[RuleSpec]) -> list[tuple[Any, ...]]:
    return [tuple(getattr(spec, name) for name in NAMES) for spec in specs]


def test_the_built_in_rules_round_trip(builtin_specs: list[RuleSpec]) -> None:
    back = specs_from_bytes(specs_to_bytes(builtin_specs))
    assert back == builtin_specs
    assert back is not None and all(type(spec) is RuleSpec for spec in back)
    # Built without __init__, yet the same as through it: equal, hashable alike, frozen, replaceable.
    assert [RuleSpec(**dataclasses.asdict(spec)) for spec in back] == builtin_specs
    assert {hash(spec) for spec in back} == {hash(spec) for spec in builtin_specs}
    with pytest.raises(dataclasses.FrozenInstanceError):
        back[0].id = "other"  # type: ignore[misc]
    assert dataclasses.replace(back[0], id="x").id == "x"


def test_the_entry_name_carries_the_key_and_the_layout() -> None:
    name = entry_name("ab" * 32)
    assert name.startswith("rules-" + "ab" * 16) and name.endswith(f"-m{marshal.version}.{ROW_FORMAT}")


def test_code_is_not_a_spec(builtin_specs: list[RuleSpec]) -> None:
    row = list(rows_of(builtin_specs[:1])[0])
    row[NAMES.index("regex")] = compile("print('planted')", "<planted>", "exec")
    assert specs_from_bytes(marshal.dumps((ROW_FORMAT, NAMES, [tuple(row)]))) is None


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"",
        b"not marshal",
        marshal.dumps([1, 2, 3]),
        marshal.dumps((ROW_FORMAT + 1, NAMES, [])),
        marshal.dumps((ROW_FORMAT, NAMES[:-1], [])),
        marshal.dumps((ROW_FORMAT, NAMES, ())),
        marshal.dumps((ROW_FORMAT, NAMES, [("short",)])),
        marshal.dumps((ROW_FORMAT, NAMES, [3])),
    ],
)
def test_another_layout_is_a_miss(value: bytes | None) -> None:
    assert specs_from_bytes(value) is None


def test_an_empty_list_is_no_rules() -> None:
    assert specs_from_bytes(marshal.dumps((ROW_FORMAT, NAMES, []))) == []


_WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.binary(max_size=3),
    st.lists(st.integers(), max_size=2).map(tuple),
    st.lists(st.text(max_size=2), max_size=2),
)


@settings(max_examples=200, deadline=None)
@given(index=st.integers(0, len(NAMES) - 1), wrong=_WRONG)
def test_a_value_of_another_type_is_a_miss_or_a_spec_the_dataclass_accepts(index: int, wrong: Any) -> None:
    spec = RuleSpec(id="k", name="K", regex="k_[a-z]{4}", keywords=("k_",), severity="high", confidence="high")
    row = list(rows_of([spec])[0])
    row[index] = wrong
    back = specs_from_bytes(marshal.dumps((ROW_FORMAT, NAMES, [tuple(row)])))
    if back is not None:  # the value had the declared type after all: the spec holds exactly it
        assert back == [dataclasses.replace(spec, **{NAMES[index]: wrong})]


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(0, 400), flip=st.integers(0, 255))
def test_damaged_bytes_are_a_miss_or_well_typed(cut: int, flip: int) -> None:
    spec = RuleSpec(id="k", name="K", regex="k_[a-z]{4}", keywords=("k_",), severity="high", confidence="high")
    data = bytearray(specs_to_bytes([spec]))
    data[cut % len(data)] ^= flip
    back = specs_from_bytes(bytes(data))
    assert back is None or all(type(s) is RuleSpec and type(s.id) is str for s in back)
