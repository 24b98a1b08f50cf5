"""What the fast paths fall back on: a damaged cache entry is rebuilt, a rule Hyperscan refuses still runs, a rule
file or config that cannot be read is one error naming it, and the progress bar only draws when asked to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import RunCli, rule_file

from scanner.detect.engine import Detector
from scanner.errors import ConfigError
from scanner.policy.config import load_config
from scanner.report.progress import progress_bar
from scanner.ruleset import load_rule_files, load_ruleset

SECRET = "k3y_q8w7e6r5"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("LEAKSTOP_CACHE_DIR", str(directory))
    return directory


def _rules(tmp_path: Path, regex: str = r"\b(k3y_[a-z0-9]{8})\b") -> Path:
    return rule_file(
        tmp_path / "rules" / "k3y.yaml", {"id": "k3y", "name": "K3y", "regex": regex, "keywords": ["k3y_"]}
    )


def _found(detector: Detector, content: str) -> list[tuple[str, str]]:
    return [(m.rule_id, m.secret.reveal()) for m in detector.detect(content.encode())]


def _damage(cache_dir: Path, pattern: str) -> list[Path]:
    entries = sorted(cache_dir.glob(pattern))
    for entry in entries:
        entry.write_bytes(b"not what was written\n\x00\x01")
    return entries


@pytest.mark.parametrize("engine", ["python", "hyperscan"])
def test_a_damaged_rules_cache_is_parsed_again(tmp_path: Path, cache_dir: Path, engine: str) -> None:
    path = _rules(tmp_path)
    assert _found(Detector(load_ruleset([path]), engine=engine), f"x = {SECRET}") == [("k3y", SECRET)]
    assert _damage(cache_dir, "rules-*")
    ruleset = load_ruleset([path])
    assert [rule.id for rule in ruleset.rules] == ["k3y"]
    assert _found(Detector(ruleset, engine=engine), f"x = {SECRET}") == [("k3y", SECRET)]


def test_damaged_hyperscan_databases_are_compiled_again(tmp_path: Path, cache_dir: Path) -> None:
    ruleset = load_ruleset([_rules(tmp_path)])
    assert _found(Detector(ruleset, engine="hyperscan"), f"x = {SECRET}") == [("k3y", SECRET)]
    assert len(_damage(cache_dir, "hs*")) == 2  # the rules' database and the keywords'
    assert _found(Detector(ruleset, engine="hyperscan"), f"x = {SECRET}") == [("k3y", SECRET)]
    assert all(not entry.read_bytes().startswith(b"not what") for entry in cache_dir.glob("hs*"))


@pytest.mark.parametrize("kind", ["hs6-*", "hs6k-*"])
def test_a_changed_byte_in_the_self_checked_database_is_a_miss_or_changes_nothing(
    tmp_path: Path, cache_dir: Path, kind: str
) -> None:
    """The rules' and the keywords' database entries are self-checked (the body is Hyperscan's serialisation,
    which carries a CRC-32C that loading verifies): a flipped byte anywhere, or a cut, is a recompile or the same
    database, never a crash or other findings."""
    ruleset = load_ruleset([_rules(tmp_path)])
    content = f"x = {SECRET}"
    assert _found(Detector(ruleset, engine="hyperscan"), content) == [("k3y", SECRET)]
    (entry,) = cache_dir.glob(kind)
    written = entry.read_bytes()
    step = max(1, len(written) // 97)
    for position in [*range(0, 200, 7), *range(200, len(written), step), len(written) - 1]:
        changed = bytearray(written)
        changed[position] ^= 0x20
        entry.write_bytes(bytes(changed))
        assert _found(Detector(ruleset, engine="hyperscan"), content) == [("k3y", SECRET)], position
    for cut in (written[:-1], written[: len(written) // 2], written + b"\0"):
        entry.write_bytes(cut)
        assert _found(Detector(ruleset, engine="hyperscan"), content) == [("k3y", SECRET)]


def test_a_rule_hyperscan_refuses_runs_on_every_chunk(tmp_path: Path, cache_dir: Path) -> None:
    # An end anchor inside the pattern: Python's re takes it, Hyperscan refuses to compile it.
    ruleset = load_ruleset([_rules(tmp_path, r"(k3y_[a-z0-9]{8})\Z\n?")])
    fast, slow = Detector(ruleset, engine="hyperscan"), Detector(ruleset, engine="python")
    for content, expected in [(f"x = {SECRET}", [("k3y", SECRET)]), (f"x = {SECRET} and more", [])]:
        assert _found(fast, content) == _found(slow, content) == expected
    # From the cache now (the refused rule recorded with the database): the same.
    assert _found(Detector(ruleset, engine="hyperscan"), f"x = {SECRET}") == [("k3y", SECRET)]


@pytest.mark.parametrize(
    "rules",
    [
        "",  # no rule at all
        # only rules Hyperscan refuses
        '\nrules: [{id: k3y, name: K3y, regex: "(k3y_[a-z0-9]{8})\\\\Z\\\\n?", keywords: [k3y_], severity: high,'
        " confidence: high}]",
    ],
)
def test_a_ruleset_hyperscan_takes_nothing_of_still_scans(
    tmp_path: Path, cache_dir: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, rules: str
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / ".leakstop.yaml").write_text(f"version: 1\nextend: none{rules}\n", encoding="utf-8")
    (project / "key.txt").write_text(f"x = {SECRET}", encoding="utf-8")
    expected = 1 if rules else 0
    for engine in ("hyperscan", "python"):
        monkeypatch.setenv("LEAKSTOP_ENGINE", engine)
        code, out, _ = run_cli("scan", "--no-progress", "--format", "json", project)
        assert code == expected, (engine, out)
        assert [f["rule"]["id"] for f in json.loads(out)["findings"]] == ["k3y"] * expected


def test_a_rule_file_that_cannot_be_read_is_named(tmp_path: Path, cache_dir: Path) -> None:
    missing = tmp_path / "missing.yaml"
    for load in (load_ruleset, load_rule_files):
        with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read rule file"):
            load([missing])
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("provider: caf\xe9\nrules: []\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin\.yaml: rule file is not UTF-8"):
        load_ruleset([latin])
    with pytest.raises(ConfigError, match=r"latin\.yaml: cannot read rule file"):
        load_rule_files([latin])


def test_a_config_that_cannot_be_read_is_named(tmp_path: Path, cache_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"absent\.yaml: cannot read config"):
        load_config(tmp_path / "absent.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("version: 1\nexclude: [caf\xe9]\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin\.yaml: config is not UTF-8"):
        load_config(latin)


def test_a_damaged_config_cache_is_validated_again(tmp_path: Path, cache_dir: Path) -> None:
    path = tmp_path / ".leakstop.yaml"
    path.write_text("version: 1\nexclude: [vendor/]\n", encoding="utf-8")
    assert load_config(path).exclude == ("vendor/",)
    assert _damage(cache_dir, "config-*.json")
    assert load_config(path).exclude == ("vendor/",)


def test_the_progress_bar_draws_only_when_enabled(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(False) as advance:
        assert advance is None
    bar = progress_bar(True)
    with bar as advance:
        assert advance is not None
        advance(3, 10)
        advance(2, 12)
        task = bar._bar.tasks[0]
        assert (task.completed, task.total) == (5, 12)
    assert not bar._bar.live.is_started  # stopped on the way out
