"""Hostile images and Terraform states, through ``leakstop scan --image/--tfstate`` in a subprocess."""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from pathlib import Path

from helpers import tar_bytes
from tokens import TokenFactory

from .harness import Sandbox


def _docker_save(path: Path, layer: bytes, manifest: object | None = None) -> Path:
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": []}, "history": []}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    name = hashlib.sha256(layer).hexdigest() + "/layer.tar"
    doc = [{"Config": config_name, "RepoTags": ["acme/app:1"], "Layers": [name]}] if manifest is None else manifest
    path.write_bytes(tar_bytes([(name, layer), (config_name, config), ("manifest.json", json.dumps(doc).encode())]))
    return path


def _scan(config: Path, *args: str | Path) -> list[str | Path]:
    return ["scan", "--no-progress", "--config", config, *args]


def test_image_layer_with_path_traversal(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    layer = tar_bytes([("../../escape.env", f"GITHUB_TOKEN={tokens.github_clean()}\n".encode())])
    image = _docker_save(sandbox.work / "img.tar", layer)
    sandbox.run(_scan(config, "--image", image)).check({0, 1, 2})
    assert not list(sandbox.root.rglob("escape.env"))


def test_image_layer_with_absolute_and_link_members(sandbox: Sandbox, config: Path) -> None:
    link = tarfile.TarInfo("etc/shadow-link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
    hard = tarfile.TarInfo("etc/hard")
    hard.type, hard.linkname = tarfile.LNKTYPE, "../../../etc/passwd"
    layer = tar_bytes([("/abs/file.txt", b"x\n"), link, hard])
    image = _docker_save(sandbox.work / "img.tar", layer)
    sandbox.run(_scan(config, "--image", image)).check({0, 2})


def test_image_that_is_not_atar_bytes(sandbox: Sandbox, config: Path) -> None:
    (sandbox.work / "junk.tar").write_bytes(b"\x89PNG not a tarball" * 100)
    sandbox.run(_scan(config, "--image", sandbox.work / "junk.tar")).check(2, "junk.tar")


def test_image_with_a_malformed_manifest(sandbox: Sandbox, config: Path) -> None:
    image = _docker_save(sandbox.work / "img.tar", tar_bytes([("a", b"a")]), manifest={"not": "a list"})
    sandbox.run(_scan(config, "--image", image)).check(2, "img.tar")


def test_image_with_a_decompression_bomb_layer(sandbox: Sandbox, config: Path) -> None:
    inner = tar_bytes([("zeros.bin", b"\0" * (64 * 1024 * 1024))])
    bomb = gzip.compress(inner, compresslevel=9)
    image = _docker_save(sandbox.work / "img.tar", bomb)
    sandbox.run(_scan(config, "--image", image), limit=90).check({0, 2})


def test_image_reference_to_an_unreachable_registry(sandbox: Sandbox, config: Path) -> None:
    outcome = sandbox.run(_scan(config, "--image", "127.0.0.1:9/acme/app:1"), limit=60)
    outcome.check(2, "127.0.0.1:9")


def test_state_that_is_not_json(sandbox: Sandbox, config: Path) -> None:
    (sandbox.work / "bad.tfstate").write_text("{ this is not json")
    sandbox.run(_scan(config, "--tfstate", sandbox.work / "bad.tfstate")).check(2, "bad.tfstate")


def test_state_nested_ten_thousand_deep(sandbox: Sandbox, config: Path) -> None:
    deep = '{"version": 4, "resources": [' + '{"a": [' * 10000 + "]}" * 10000 + "]}"
    (sandbox.work / "deep.tfstate").write_text(deep)
    sandbox.run(_scan(config, "--tfstate", sandbox.work / "deep.tfstate")).check({0, 2}, "deep.tfstate")


def test_state_with_outputs_as_a_list(sandbox: Sandbox, config: Path) -> None:
    (sandbox.work / "odd.tfstate").write_text(json.dumps({"version": 4, "outputs": [1, 2], "resources": []}))
    sandbox.run(_scan(config, "--tfstate", sandbox.work / "odd.tfstate")).check({0, 2})


def test_state_url_with_an_unknown_scheme(sandbox: Sandbox, config: Path) -> None:
    sandbox.run(_scan(config, "--tfstate", "gopher://example/state")).check(2, "gopher://")
