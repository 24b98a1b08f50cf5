"""Hostile configs, baselines and rule files, through the real command in a subprocess (one case per class)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from helpers import config_doc
from tokens import TokenFactory

from .harness import Sandbox


def _tree(sandbox: Sandbox, tokens: TokenFactory) -> Path:
    tree = sandbox.work / "tree"
    tree.mkdir(exist_ok=True)
    (tree / "k.env").write_text(f"GITHUB_TOKEN={tokens.github_clean()}\n")
    return tree


def _with_config(sandbox: Sandbox, tokens: TokenFactory, text: str | bytes) -> tuple[Path, Path]:
    config = sandbox.work / "bad.yaml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    return config, _tree(sandbox, tokens)


def test_config_invalid_yaml(sandbox: Sandbox, tokens: TokenFactory) -> None:
    config, tree = _with_config(sandbox, tokens, "version: [1\nexclude: {")
    sandbox.run(["scan", "--config", config, tree]).check(2, "bad.yaml")


def test_config_schema_violation(sandbox: Sandbox, tokens: TokenFactory) -> None:
    config, tree = _with_config(sandbox, tokens, "version: 1\npolicy: {block: {severity: apocalyptic}}\n")
    sandbox.run(["scan", "--config", config, tree]).check(2, "bad.yaml")


def test_config_not_utf8(sandbox: Sandbox, tokens: TokenFactory) -> None:
    config, tree = _with_config(sandbox, tokens, b"version: 1\nexclude: [caf\xe9]\n")
    sandbox.run(["scan", "--config", config, tree]).check(2, "bad.yaml")


def test_config_yaml_alias_bomb(sandbox: Sandbox, tokens: TokenFactory) -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    config, tree = _with_config(sandbox, tokens, "version: 1\n" + "\n".join(levels) + "\nexclude: *a8\n")
    sandbox.run(["scan", "--config", config, tree], limit=30).check(2, "bad.yaml")


def test_config_that_is_a_directory(sandbox: Sandbox, tokens: TokenFactory) -> None:
    (sandbox.work / "confdir").mkdir()
    sandbox.run(["scan", "--config", sandbox.work / "confdir", _tree(sandbox, tokens)]).check(2, "confdir")


def test_config_with_a_catastrophic_regex(sandbox: Sandbox, tokens: TokenFactory) -> None:
    rule = {"id": "t", "name": "T", "regex": "t_" + "[a-z]*" * 8 + "!", "keywords": ["t_"]}
    rule |= {"severity": "high", "confidence": "high"}
    config, tree = _with_config(sandbox, tokens, yaml.safe_dump({"rules": [rule]}))
    sandbox.run(["scan", "--config", config, tree]).check(2, "bad.yaml")


def test_config_with_a_regex_that_does_not_compile(sandbox: Sandbox, tokens: TokenFactory) -> None:
    rule = {"id": "t", "name": "T", "regex": "t_([a-z", "keywords": ["t_"], "severity": "high", "confidence": "high"}
    config, tree = _with_config(sandbox, tokens, yaml.safe_dump({"rules": [rule]}))
    sandbox.run(["scan", "--config", config, tree]).check(2, "bad.yaml")


def _good_config(sandbox: Sandbox) -> Path:
    config = sandbox.work / "good.yaml"
    config.write_text(yaml.safe_dump(config_doc()))
    return config


def test_baseline_not_json(sandbox: Sandbox, tokens: TokenFactory) -> None:
    (sandbox.work / "base.json").write_text("{not json")
    args = ["scan", "--config", _good_config(sandbox), "--baseline", sandbox.work / "base.json"]
    sandbox.run([*args, _tree(sandbox, tokens)]).check(2, "base.json")


def test_baseline_of_an_unknown_version(sandbox: Sandbox, tokens: TokenFactory) -> None:
    (sandbox.work / "base.json").write_text(json.dumps({"version": 99, "fingerprints": []}))
    args = ["scan", "--config", _good_config(sandbox), "--baseline", sandbox.work / "base.json"]
    sandbox.run([*args, _tree(sandbox, tokens)]).check(2, "base.json")


def test_baseline_nested_very_deep(sandbox: Sandbox, tokens: TokenFactory) -> None:
    (sandbox.work / "base.json").write_text("[" * 100_000 + "]" * 100_000)
    args = ["scan", "--config", _good_config(sandbox), "--baseline", sandbox.work / "base.json"]
    sandbox.run([*args, _tree(sandbox, tokens)]).check(2, "base.json")


def test_baseline_with_fingerprints_of_the_wrong_type(sandbox: Sandbox, tokens: TokenFactory) -> None:
    (sandbox.work / "base.json").write_text(json.dumps({"version": 2, "fingerprints": [1, None, {"a": 2}]}))
    args = ["scan", "--config", _good_config(sandbox), "--baseline", sandbox.work / "base.json"]
    sandbox.run([*args, _tree(sandbox, tokens)]).check({1, 2})


def test_rule_file_that_is_no_rule_file(sandbox: Sandbox) -> None:
    (sandbox.work / "rules.yaml").write_text("rules: {id: 1}\n")
    sandbox.run(["rules", "check", sandbox.work / "rules.yaml"]).check(2, "rules.yaml")


def test_gitleaks_config_that_is_no_toml(sandbox: Sandbox) -> None:
    (sandbox.work / "gitleaks.toml").write_text("[[rules]\nid = ")
    sandbox.run(["config", "import-gitleaks", sandbox.work / "gitleaks.toml"]).check(2, "gitleaks.toml")
