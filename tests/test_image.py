"""Image scanning: docker save tarballs (legacy and OCI) and OCI layouts, built here with tarfile."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers import MakeConfig, RunCli, tar_bytes
from tokens import TokenFactory

from scanner.detect.engine import Detector
from scanner.models import ImageOrigin, ScanResult
from scanner.pipeline.collect import Collector, Hooks
from scanner.pipeline.detection import ChunkDetector
from scanner.pipeline.request import ScanRequest
from scanner.ruleset import Ruleset
from scanner.sources.base import Skips
from scanner.sources.image import ImageOptions, ImageSource, config_text

Member = tuple[str, bytes] | tarfile.TarInfo


def layer(files: Mapping[str, bytes], extra: Iterable[Member] = ()) -> bytes:
    return tar_bytes([*files.items(), *extra])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_config(layers: list[bytes], env: list[str], history: list[str]) -> dict[str, Any]:
    return {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin", *env], "Labels": {"maintainer": "ops"}},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{sha(x)}" for x in layers]},
        "history": [{"created_by": h} for h in history],
    }


def docker_save(path: Path, layers: list[bytes], config: dict[str, Any]) -> Path:
    """The legacy ``docker save`` layout (Docker < 25): one directory per layer with an uncompressed layer.tar."""
    config_bytes = json.dumps(config).encode()
    config_name = f"{sha(config_bytes)}.json"
    members: list[Member] = []
    names = []
    for data in layers:
        name = f"{sha(data)}/layer.tar"
        names.append(name)
        members.append((name, data))
    members.append((config_name, config_bytes))
    manifest = [{"Config": config_name, "RepoTags": ["acme/app:1"], "Layers": names}]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    path.write_bytes(tar_bytes(members))
    return path


def oci_members(blobs: list[bytes], config: dict[str, Any], media: str = "tar+gzip") -> dict[str, bytes]:
    config_bytes = json.dumps(config).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": f"sha256:{sha(config_bytes)}",
            "size": len(config_bytes),
        },
        "layers": [
            {"mediaType": f"application/vnd.oci.image.layer.v1.{media}", "digest": f"sha256:{sha(b)}", "size": len(b)}
            for b in blobs
        ],
    }
    manifest_bytes = json.dumps(manifest).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": f"sha256:{sha(manifest_bytes)}",
                "size": len(manifest_bytes),
            }
        ],
    }
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": json.dumps(index).encode()}
    for blob in [manifest_bytes, config_bytes, *blobs]:
        files[f"blobs/sha256/{sha(blob)}"] = blob
    return files


def oci_tar(path: Path, blobs: list[bytes], config: dict[str, Any], media: str = "tar+gzip") -> Path:
    path.write_bytes(tar_bytes(oci_members(blobs, config, media).items()))
    return path


def findings_json(run_cli: RunCli, *argv: str | Path) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli("scan", *argv, "-f", "json", "--show-secrets")
    return code, json.loads(out), err


@pytest.fixture
def config(make_config: MakeConfig) -> Path:
    return make_config(("github-pat",))


def test_docker_save_scans_every_layer_the_config_and_deleted_files(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    deleted, visible, env, arg = (tokens.github_clean() for _ in range(4))
    base = layer({"app/.env": f"TOKEN={deleted}\n".encode(), "etc/os-release": b"ID=debian\n"})
    top = layer({"app/.wh..env": b"", "app/main.py": f"# app\nkey = '{visible}'\n".encode()})
    history = ["/bin/sh -c #(nop) ADD file:abc in /", f"RUN |1 GH={arg} /bin/sh -c make # buildkit"]
    image = docker_save(tmp_path / "img.tar", [base, top], image_config([base, top], [f"GH_TOKEN={env}"], history))

    code, report, _ = findings_json(run_cli, "--image", image, "-c", config)

    assert code == 1
    by_secret = {f["secret"]: f["location"] for f in report["findings"]}
    assert set(by_secret) == {deleted, visible, env, arg}
    gone = by_secret[deleted]
    assert gone["path"] == f"{image}!sha256:{sha(base)}!app/.env"
    assert gone["status"] == "deleted in layer 1, still extractable"
    assert gone["layer_index"] == 0
    shown = by_secret[visible]
    assert (shown["path"], shown["line"], shown["status"]) == (f"{image}!sha256:{sha(top)}!app/main.py", 2, "visible")
    # The layer's created_by names the build argument, redacted: a report must not carry the secret through it.
    assert arg not in shown["created_by"] and "GH=ghp_" in shown["created_by"]
    assert by_secret[env]["path"] == by_secret[arg]["path"] == f"{image}!config"
    assert report["issues"] == []
    # Reported in image order, config first, then bottom up, though the layers are read from the top.
    assert [f["secret"] for f in report["findings"]] == [env, arg, deleted, visible]


def test_oci_tar_and_directory_with_gzip_layers_and_an_opaque_whiteout(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    secret, other = tokens.github_clean(), tokens.github_clean()
    lower = gzip.compress(layer({"srv/keys/deploy": f"token: {secret}\n".encode()}))
    upper = layer({"srv/keys/.wh..wh..opq": b"", "srv/app.yaml": f"t: {other}\n".encode()})  # uncompressed
    cfg = image_config([], [], [])
    archive = oci_tar(tmp_path / "oci.tar", [lower, upper], cfg)
    layout = tmp_path / "layout"
    for name, data in oci_members([lower, upper], cfg).items():
        (layout / name).parent.mkdir(parents=True, exist_ok=True)
        (layout / name).write_bytes(data)

    for target in (archive, layout):
        code, report, _ = findings_json(run_cli, "--image", target, "-c", config)
        assert code == 1
        by_secret = {f["secret"]: f["location"] for f in report["findings"]}
        assert by_secret[secret]["path"] == f"{target}!sha256:{sha(lower)}!srv/keys/deploy"
        assert by_secret[secret]["status"] == "deleted in layer 1, still extractable"
        assert by_secret[other]["status"] == "visible"
        assert report["issues"] == []


def test_docker_25_save_with_manifest_json_pointing_into_blobs(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    secret = tokens.github_clean()
    blob = layer({"root/.npmrc": f"//registry/:_authToken={secret}\n".encode()})
    cfg = image_config([blob], [], [])
    files = oci_members([blob], cfg, media="tar")
    config_blob = json.dumps(cfg).encode()
    manifest = [{"Config": f"blobs/sha256/{sha(config_blob)}", "Layers": [f"blobs/sha256/{sha(blob)}"]}]
    files["manifest.json"] = json.dumps(manifest).encode()
    image = tmp_path / "new.tar"
    image.write_bytes(tar_bytes(files.items()))

    code, report, _ = findings_json(run_cli, "--image", image, "-c", config)

    assert code == 1
    assert [f["location"]["path"] for f in report["findings"]] == [f"{image}!sha256:{sha(blob)}!root/.npmrc"]


def test_path_traversal_and_links_are_metadata_and_reported(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    secret = tokens.github_clean()
    link = tarfile.TarInfo("etc/passwd-link")
    link.type, link.linkname = tarfile.SYMTYPE, "../../../../etc/passwd"
    loop = tarfile.TarInfo("a/loop")
    loop.type, loop.linkname = tarfile.SYMTYPE, "loop"
    hard = tarfile.TarInfo("a/hard")
    hard.type, hard.linkname = tarfile.LNKTYPE, "/etc/shadow"
    evil = layer({"../../escape.txt": f"x={secret}\n".encode()}, [link, loop, hard])
    image = docker_save(tmp_path / "evil.tar", [evil], image_config([evil], [], []))

    code, report, _ = findings_json(run_cli, "--image", image, "-c", config)

    assert code == 1  # the bytes are read in place, never written anywhere: the secret is still reported
    assert [f["secret"] for f in report["findings"]] == [secret]
    reasons = {(i["reason"], i["path"].rsplit("!", 1)[-1]) for i in report["issues"]}
    assert ("unsafe-path", "../../escape.txt") in reasons  # shown as named in the tar
    assert not (tmp_path / "escape.txt").exists()


def test_a_truncated_tarball_is_an_issue_and_earlier_layers_still_count(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    first, second = tokens.github_clean(), tokens.github_clean()
    a = layer({"a.txt": f"t={first}\n".encode()})
    b = layer({"b.txt": f"t={second}\n".encode(), "pad.bin": bytes(200_000)})
    cfg = image_config([a, b], [], [])
    files = oci_members([a, b], cfg, media="tar")
    # The second layer last, cut off halfway through its data.
    order = [n for n in files if n != f"blobs/sha256/{sha(b)}"] + [f"blobs/sha256/{sha(b)}"]
    data = tar_bytes((n, files[n]) for n in order)
    image = tmp_path / "cut.tar"
    image.write_bytes(data[: len(data) - 150_000])

    code, report, _ = findings_json(run_cli, "--image", image, "-c", config)

    assert code == 1
    assert first in {f["secret"] for f in report["findings"]}
    assert "truncated" in {i["reason"] for i in report["issues"]}


def test_a_layer_whose_digest_does_not_match_is_reported_and_scanned(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    secret = tokens.github_clean()
    blob = gzip.compress(layer({"x.txt": f"t={secret}\n".encode()}))
    files = oci_members([blob], image_config([], [], []))
    files[f"blobs/sha256/{sha(blob)}"] = gzip.compress(layer({"x.txt": f"t={secret}\nchanged\n".encode()}))
    image = tmp_path / "bad.tar"
    image.write_bytes(tar_bytes(files.items()))

    code, report, _ = findings_json(run_cli, "--image", image, "-c", config)

    assert code == 1
    assert [f["secret"] for f in report["findings"]] == [secret]
    assert [i["reason"] for i in report["issues"]] == ["digest-mismatch"]


def test_not_an_image_is_a_one_line_error(tmp_path: Path, run_cli: RunCli, config: Path) -> None:
    plain = tmp_path / "plain.tar"
    plain.write_bytes(tar_bytes([("hello.txt", b"hi\n")]))
    code, _out, err = run_cli("scan", "--image", plain, "-c", config)
    assert code == 2
    assert (
        err.strip()
        == f"leakstop: error: {plain}: not an image: no manifest.json (docker save) or index.json (OCI layout)"
    )
    code, _, err = run_cli("scan", "--image", tmp_path / "missing.tar", "-c", config)
    assert code == 2 and "no such file" in err
    code, _, err = run_cli("scan", "--image", plain, "some/path", "-c", config)
    assert code == 2 and "give no PATH" in err


# -- caps, through the API so they can be set low -----------------------------------------------------------


def run_scan(ruleset: Ruleset, detector: Detector, image: Path, **caps: Any) -> ScanResult:
    """The pipeline's pieces (source → detection → collector) with a source whose caps the request cannot set."""
    source = ImageSource(str(image), ImageOptions(**caps))
    result = ScanResult(target=source.target)
    hooks = Hooks(resolve=source.resolve, requested_bypass=source.requested_bypass, looks_secret=lambda text: False)
    collector = Collector(ruleset, ScanRequest("image", image=str(image)), "", hooks, result)
    chunks = ChunkDetector(detector, ruleset)
    for chunk in source.items(Skips(result.issues, result.stats)):
        for origin, matches in chunks.detect(chunk).groups:
            collector.add(origin, matches)
    return result


def test_a_gzip_bomb_stops_at_the_ratio_cap(
    tmp_path: Path, tokens: TokenFactory, github_ruleset: Ruleset, github_detector: Detector
) -> None:
    secret = tokens.github_clean()
    bomb = gzip.compress(layer({"a.txt": f"t={secret}\n".encode(), "zeros": bytes(8 * 1024 * 1024)}), 9)
    assert len(bomb) < 40_000
    image = oci_tar(tmp_path / "bomb.tar", [bomb], image_config([], [], []))

    result = run_scan(github_ruleset, github_detector, image, max_ratio=20, max_member_size=64 * 1024 * 1024)

    assert [f.match.secret.reveal() for f in result.findings] == [secret]  # what came before the cap
    assert [(i.reason, "decompression bomb" in i.message) for i in result.issues] == [("limit", True)]


def test_member_and_layer_caps(
    tmp_path: Path, tokens: TokenFactory, github_ruleset: Ruleset, github_detector: Detector
) -> None:
    secret = tokens.github_clean()
    blob = layer({f"f{i}.txt": f"t={secret}\n".encode() for i in range(5)} | {"big.txt": b"x" * 5000})
    image = oci_tar(tmp_path / "many.tar", [blob], image_config([], [], []), media="tar")

    result = run_scan(github_ruleset, github_detector, image, max_member_size=4096)
    assert len(result.findings) == 5
    assert [i.reason for i in result.issues] == ["too-large"]

    result = run_scan(github_ruleset, github_detector, image, max_members=3)
    assert len(result.findings) == 3
    assert [i.reason for i in result.issues] == ["limit"]

    result = run_scan(github_ruleset, github_detector, image, max_layer_bytes=2048)
    assert [i.reason for i in result.issues] == ["limit"]


def test_a_zstd_layer_without_zstandard_is_skipped_with_the_reason(
    tmp_path: Path, github_ruleset: Ruleset, github_detector: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scanner.sources.image.layers as layers_module

    monkeypatch.setattr(layers_module, "_zstd_available", lambda: False)
    blob = b"\x28\xb5\x2f\xfd" + b"\0" * 32
    image = oci_tar(tmp_path / "z.tar", [blob], image_config([], [], []), media="tar+zstd")

    result = run_scan(github_ruleset, github_detector, image)

    assert [(i.reason, "zstandard" in i.message) for i in result.issues] == [("unsupported", True)]


def test_a_real_zstd_layer_is_scanned_and_a_damaged_one_reported(
    tmp_path: Path, tokens: TokenFactory, github_ruleset: Ruleset, github_detector: Detector
) -> None:
    import zstandard

    secret, other = tokens.github_clean(), tokens.github_clean()
    # Written in frames of unknown size through the streaming writer, as containerd and buildkit do.
    out = io.BytesIO()
    with zstandard.ZstdCompressor(level=3).stream_writer(out, closefd=False) as writer:
        writer.write(layer({"opt/app/.env": f"TOKEN={secret}\n".encode(), "pad": bytes(300_000)}))
    good = out.getvalue()
    assert good[:4] == b"\x28\xb5\x2f\xfd"
    damaged = zstandard.ZstdCompressor().compress(layer({"a.txt": f"t={other}\n".encode(), "b": bytes(1 << 20)}))
    damaged = damaged[: len(damaged) // 2] + b"\xff" * 64 + damaged[len(damaged) // 2 :]
    image = oci_tar(tmp_path / "z.tar", [good, damaged], image_config([], [], []), media="tar+zstd")

    result = run_scan(github_ruleset, github_detector, image)

    found = {f.match.secret.reveal(): f.origin for f in result.findings}
    assert set(found) <= {secret, other} and secret in found
    origin = found[secret]
    assert isinstance(origin, ImageOrigin)
    assert (origin.path, origin.layer_digest) == ("opt/app/.env", f"sha256:{sha(good)}")
    assert [(i.reason, i.path) for i in result.issues] == [("truncated", f"{image}!sha256:{sha(damaged)}")]


def test_a_zstd_bomb_stops_at_the_ratio_cap(
    tmp_path: Path, tokens: TokenFactory, github_ruleset: Ruleset, github_detector: Detector
) -> None:
    import zstandard

    secret = tokens.github_clean()
    bomb = zstandard.ZstdCompressor(level=19).compress(layer({"a": f"t={secret}\n".encode(), "z": bytes(16 << 20)}))
    image = oci_tar(tmp_path / "zb.tar", [bomb], image_config([], [], []), media="tar+zstd")

    result = run_scan(github_ruleset, github_detector, image, max_ratio=20, max_member_size=64 << 20)

    assert [f.match.secret.reveal() for f in result.findings] == [secret]
    assert [(i.reason, "decompression bomb" in i.message) for i in result.issues] == [("limit", True)]


def test_config_text_carries_env_labels_commands_and_history() -> None:
    text = config_text(
        {
            "config": {
                "Env": ["A=1"],
                "Labels": {"k": "v"},
                "Cmd": ["run", "--token", "t"],
                "Healthcheck": {"Test": ["CMD", "curl", "-u", "u:p", "x"]},
            },
            "history": [{"created_by": "RUN |1 X=y sh -c true"}, {"empty_layer": True}],
        }
    )
    assert text.splitlines() == [
        "ENV A=1",
        "LABEL k=v",
        "CMD run --token t",
        "HEALTHCHECK CMD curl -u u:p x",
        "HISTORY RUN |1 X=y sh -c true",
    ]
    assert config_text({}) == ""


def test_origins_of_config_findings_have_no_layer(
    tmp_path: Path, tokens: TokenFactory, github_ruleset: Ruleset, github_detector: Detector
) -> None:
    secret = tokens.github_clean()
    image = docker_save(tmp_path / "c.tar", [], image_config([], [f"T={secret}"], []))
    result = run_scan(github_ruleset, github_detector, image)
    assert [f.origin for f in result.findings] == [ImageOrigin(image=str(image), path="config")]


def test_an_overwritten_file_and_a_deleted_directory(
    tmp_path: Path, tokens: TokenFactory, github_ruleset: Ruleset, github_detector: Detector
) -> None:
    old, gone, kept = (tokens.github_clean() for _ in range(3))
    base = layer({"etc/app.conf": f"t={old}\n".encode(), "opt/build/key.txt": f"t={gone}\n".encode()})
    top = layer({"etc/app.conf": f"t={kept}\n".encode(), "opt/.wh.build": b""})
    image = docker_save(tmp_path / "o.tar", [base, top], image_config([base, top], [], []))

    result = run_scan(github_ruleset, github_detector, image)

    status = {f.match.secret.reveal(): f.origin.status for f in result.findings if isinstance(f.origin, ImageOrigin)}
    assert status == {
        old: "overwritten in layer 1, still extractable",
        gone: "deleted in layer 1, still extractable",
        kept: "visible",
    }


def test_a_gzipped_save_an_extracted_save_and_a_nested_index(
    tmp_path: Path, tokens: TokenFactory, github_ruleset: Ruleset, github_detector: Detector
) -> None:
    secret = tokens.github_clean()
    blob = layer({"srv/env": f"t={secret}\n".encode()})
    saved = docker_save(tmp_path / "s.tar", [blob], image_config([blob], [], []))
    zipped = tmp_path / "s.tar.gz"
    zipped.write_bytes(gzip.compress(saved.read_bytes()))
    extracted = tmp_path / "extracted"
    with tarfile.open(saved) as tar:  # the test's own tarball, unpacked into a directory layout
        for info in tar.getmembers():
            fh = tar.extractfile(info)
            assert fh is not None
            (extracted / info.name).parent.mkdir(parents=True, exist_ok=True)
            (extracted / info.name).write_bytes(fh.read())
    files = oci_members([gzip.compress(blob)], image_config([], [], []))
    index = json.loads(files["index.json"])
    inner = json.dumps({**index, "mediaType": "application/vnd.oci.image.index.v1+json"}).encode()
    files[f"blobs/sha256/{sha(inner)}"] = inner
    files["index.json"] = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    "digest": f"sha256:{sha(inner)}",
                    "size": len(inner),
                }
            ],
        }
    ).encode()
    nested = tmp_path / "nested.tar"
    nested.write_bytes(tar_bytes(files.items()))

    for image in (zipped, extracted, nested):
        result = run_scan(github_ruleset, github_detector, image)
        assert [f.match.secret.reveal() for f in result.findings] == [secret], image
        assert result.issues == [], image


def test_an_absurd_member_size_is_skipped_and_the_layer_reported(
    tmp_path: Path, tokens: TokenFactory, github_ruleset: Ruleset, github_detector: Detector
) -> None:
    secret = tokens.github_clean()
    huge = tarfile.TarInfo("var/huge.bin")
    huge.size = 10**13  # a PAX header promising 10 TB that never follow
    blob = layer({"a.txt": f"t={secret}\n".encode()}, [huge])
    image = oci_tar(tmp_path / "huge.tar", [blob], image_config([], [], []), media="tar")

    result = run_scan(github_ruleset, github_detector, image)

    assert [f.match.secret.reveal() for f in result.findings] == [secret]
    assert [(i.reason, "claims 10000000000000 bytes" in i.message) for i in result.issues] == [("limit", True)]


def test_a_layer_cut_inside_its_last_member_is_truncated(
    tmp_path: Path, tokens: TokenFactory, github_ruleset: Ruleset, github_detector: Detector
) -> None:
    secret = tokens.github_clean()
    short = tarfile.TarInfo("var/short.bin")
    short.size = 500_000  # the header says so; the data never follows
    blob = gzip.compress(layer({"a.txt": f"t={secret}\n".encode()}, [short]))
    image = oci_tar(tmp_path / "short.tar", [blob], image_config([], [], []))

    result = run_scan(github_ruleset, github_detector, image)

    assert [f.match.secret.reveal() for f in result.findings] == [secret]
    assert [i.reason for i in result.issues] == ["truncated"]


# -- archives inside layers ---------------------------------------------------------------------------------


def zip_bytes(files: Mapping[str, bytes], level: int = 6) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buf.getvalue()


def encrypted_flag(data: bytes) -> bytes:
    """Mark every entry of a zip encrypted (general purpose flag bit 0), as a password-protected zip is."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = out.find(signature)
        while at >= 0:
            out[at + offset] |= 0x01
            at = out.find(signature, at + 4)
    return bytes(out)


def test_archives_in_a_layer_are_opened_to_depth_two(
    tmp_path: Path, tokens: TokenFactory, github_ruleset: Ruleset, github_detector: Detector
) -> None:
    in_tar, in_tgz, in_jar, too_deep, beside = (tokens.github_clean() for _ in range(5))
    jar = zip_bytes({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n", "app.properties": f"t={in_jar}\n".encode()})
    deepest = tar_bytes([("secret.txt", f"t={too_deep}\n".encode())])
    war = zip_bytes({"WEB-INF/lib/lib.jar": jar, "WEB-INF/lib/inner.zip": zip_bytes({"x.tar": deepest})})
    files = {
        "opt/bundle.tar": tar_bytes([("./conf/app.env", f"TOKEN={in_tar}\n".encode()), ("bin/tool", b"\0\1")]),
        "opt/backup.tgz": gzip.compress(tar_bytes([("etc/.netrc", f"password {in_tgz}\n".encode())])),
        "srv/app.war": war,
        "srv/notes.tar": f"not a tar at all: {beside}\n".encode(),  # the name says tar, the bytes do not
    }
    blob = gzip.compress(layer(files))
    image = oci_tar(tmp_path / "nested.tar", [blob], image_config([], [], []))

    result = run_scan(github_ruleset, github_detector, image)

    where = {f.match.secret.reveal(): f.origin.path for f in result.findings if isinstance(f.origin, ImageOrigin)}
    assert where == {
        in_tar: "opt/bundle.tar!conf/app.env",
        in_tgz: "opt/backup.tgz!etc/.netrc",
        in_jar: "srv/app.war!WEB-INF/lib/lib.jar!app.properties",
        beside: "srv/notes.tar",
    }
    assert [(i.reason, i.path.split("!", 2)[-1], i.message) for i in result.issues] == [
        ("limit", "srv/app.war!WEB-INF/lib/inner.zip!x.tar", "archive nested more than 2 deep: not opened")
    ]
    deeper = run_scan(github_ruleset, github_detector, image, max_archive_depth=3)
    assert too_deep in {f.match.secret.reveal() for f in deeper.findings} and deeper.issues == []
    off = run_scan(github_ruleset, github_detector, image, max_archive_depth=0)
    assert {f.match.secret.reveal() for f in off.findings} == {beside}  # archives are binary: not read


def test_a_deleted_archive_gives_its_members_the_status(
    tmp_path: Path, tokens: TokenFactory, github_ruleset: Ruleset, github_detector: Detector
) -> None:
    secret = tokens.github_clean()
    base = layer({"root/keys.zip": zip_bytes({"id.txt": f"t={secret}\n".encode()})})
    top = layer({"root/.wh.keys.zip": b""})
    image = docker_save(tmp_path / "d.tar", [base, top], image_config([base, top], [], []))

    result = run_scan(github_ruleset, github_detector, image)

    assert [(f.origin.path, f.origin.status) for f in result.findings if isinstance(f.origin, ImageOrigin)] == [
        ("root/keys.zip!id.txt", "deleted in layer 1, still extractable")
    ]


def test_hostile_archives_in_a_layer(
    tmp_path: Path, tokens: TokenFactory, github_ruleset: Ruleset, github_detector: Detector
) -> None:
    kept, traversal, after = (tokens.github_clean() for _ in range(3))
    bomb_zip = zip_bytes({"ok.txt": f"t={kept}\n".encode(), "zeros.bin": bytes(8 << 20)}, level=9)
    evil_tar = tar_bytes([("../../../etc/cron.d/x", f"t={traversal}\n".encode())])
    good_zip = zip_bytes({"a.txt": b"hello\n" * 1000})
    cut_zip = good_zip[: len(good_zip) // 2]  # no central directory
    files = {
        "a/bomb.zip": bomb_zip,
        "b/evil.tar": evil_tar,
        "c/cut.zip": cut_zip,
        "d/big.jar": zip_bytes({f"f{i}": os.urandom(4096) for i in range(16)}, level=0),
        "e/after.txt": f"t={after}\n".encode(),
        "f/locked.zip": encrypted_flag(zip_bytes({"s.txt": b"x\n"})),
    }
    blob = layer(files)
    image = oci_tar(tmp_path / "hostile.tar", [blob], image_config([], [], []), media="tar")

    result = run_scan(
        github_ruleset, github_detector, image, max_ratio=50, max_zip_bytes=32 * 1024, max_member_size=16 << 20
    )

    where = {f.match.secret.reveal(): f.origin.path for f in result.findings if isinstance(f.origin, ImageOrigin)}
    assert where == {kept: "a/bomb.zip!ok.txt", traversal: "b/evil.tar!../../../etc/cron.d/x", after: "e/after.txt"}
    issues = {(i.reason, i.path.split("!", 2)[-1]) for i in result.issues}
    assert issues == {
        ("limit", "a/bomb.zip!zeros.bin"),
        ("unsafe-path", "b/evil.tar!../../../etc/cron.d/x"),
        ("unreadable", "c/cut.zip"),
        ("too-large", "d/big.jar"),
        ("encrypted", "f/locked.zip!s.txt"),
    }
    assert not (tmp_path / "etc").exists()


def test_nested_archives_share_the_layer_byte_cap(
    tmp_path: Path, tokens: TokenFactory, github_ruleset: Ruleset, github_detector: Detector
) -> None:
    secret = tokens.github_clean()
    inner = gzip.compress(tar_bytes([("a.txt", f"t={secret}\n".encode()), ("pad", bytes(3 << 20))]), 9)
    blob = layer({"x.tgz": inner})
    assert len(blob) < 64 * 1024
    image = oci_tar(tmp_path / "cap.tar", [blob], image_config([], [], []), media="tar")

    result = run_scan(github_ruleset, github_detector, image, max_layer_bytes=1 << 20, max_ratio=10_000)

    assert [f.match.secret.reveal() for f in result.findings] == [secret]
    assert [(i.reason, "1048576-byte cap" in i.message) for i in result.issues] == [("limit", True)]


def test_archive_depth_from_the_command_line(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    secret = tokens.github_clean()
    blob = layer({"opt/b.tar": tar_bytes([("k.txt", f"t={secret}\n".encode())])})
    image = oci_tar(tmp_path / "n.tar", [blob], image_config([], [], []), media="tar")

    code, report, _ = findings_json(run_cli, "--image", image, "-c", config)
    assert code == 1
    assert [f["location"]["path"] for f in report["findings"]] == [f"{image}!sha256:{sha(blob)}!opt/b.tar!k.txt"]
    code, report, _ = findings_json(run_cli, "--image", image, "--max-archive-depth", "0", "-c", config)
    assert code == 0 and report["findings"] == []
    code, _, err = run_cli("scan", "--tfstate", image, "--max-archive-depth", "1", "-c", config)
    assert code == 2 and "go with --image" in err


def test_statuses_are_final_whatever_order_the_layers_are_read_in(
    tmp_path: Path, tokens: TokenFactory, github_ruleset: Ruleset, github_detector: Detector
) -> None:
    """Layers are read from the top down (a compressed tarball: listed first, then read bottom up); every chunk
    carries its final status, the same in each container, including a layer that appears twice."""
    old, gone, opaque, kept, twice, top = (tokens.github_clean() for _ in range(6))
    base = layer({"etc/app.conf": f"t={old}\n".encode(), "opt/x/key": f"t={gone}\n".encode()})
    again = layer({"srv/twice.env": f"t={twice}\n".encode()})
    middle = layer({"etc/app.conf": f"t={kept}\n".encode(), "opt/.wh.x": b"", "var/k": f"t={opaque}\n".encode()})
    upper = layer({"var/.wh..wh..opq": b"", "top.env": f"t={top}\n".encode()})
    layers = [base, again, middle, upper, again]
    cfg = image_config(layers, [], [])
    saved = docker_save(tmp_path / "s.tar", layers, cfg)
    zipped = tmp_path / "s.tar.gz"
    zipped.write_bytes(gzip.compress(saved.read_bytes()))
    layout = tmp_path / "layout"
    for name, data in oci_members([gzip.compress(x) for x in layers], cfg).items():
        (layout / name).parent.mkdir(parents=True, exist_ok=True)
        (layout / name).write_bytes(data)

    expected = {
        old: (0, "overwritten in layer 2, still extractable"),
        gone: (0, "deleted in layer 2, still extractable"),
        twice: (1, "overwritten in layer 4, still extractable"),
        kept: (2, "visible"),
        opaque: (2, "deleted in layer 3, still extractable"),
        top: (3, "visible"),
    }
    for image in (saved, zipped, layout):
        result = run_scan(github_ruleset, github_detector, image)
        found = {
            f.match.secret.reveal(): (f.origin.layer_index, f.origin.status)
            for f in result.findings
            if isinstance(f.origin, ImageOrigin)
        }
        assert found == expected, image
        assert len(result.findings) == len(expected) and result.issues == [], image


def test_hidden_takes_the_lowest_later_layer_and_any_depth() -> None:
    from scanner.sources.image.hidden import Hidden, LayerPaths

    hidden = Hidden()
    hidden.add(3, LayerPaths(files={"a/b/f"}, opaque={""}))
    hidden.add(2, LayerPaths(deleted={"a/b"}))
    hidden.add(1, LayerPaths(files={"a/b/f", "x"}, deleted={"a/b/f"}))
    assert hidden.status("a/b/f", 0) == "deleted in layer 1, still extractable"  # the whiteout wins at its layer
    assert hidden.status("a/b/f", 1) == "deleted in layer 2, still extractable"
    assert hidden.status("a/b/f", 2) == "deleted in layer 3, still extractable"  # the opaque root
    assert hidden.status("x", 0) == "overwritten in layer 1, still extractable"
    assert hidden.status("a/b/f", 3) == hidden.status("y", 3) == "visible"
    deep = "/".join(["d"] * 5000)
    hidden.add(4, LayerPaths(deleted={"d"}))
    assert hidden.status(f"{deep}/f", 3) == "deleted in layer 4, still extractable"
