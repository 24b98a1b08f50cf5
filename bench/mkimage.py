#!/usr/bin/env python3
"""Build a single-layer ``docker save``-format tarball from a directory, for ``bench.py --mode image``.

    python bench/mkimage.py /tmp/bench-targets/requests /tmp/bench-targets/requests-image.tar

The layer holds the directory (``.git`` excluded) under ``/app``; the image config carries no secrets. No
Docker daemon is needed. Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tarfile
import tempfile
from pathlib import Path


def _no_git(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if "/.git/" in f"/{info.name}/" else info


def build(src: Path, out: Path, tag: str) -> None:
    with tempfile.TemporaryFile() as layer:
        with tarfile.open(fileobj=layer, mode="w") as tar:
            tar.add(src, arcname="app", filter=_no_git)
        layer.seek(0)
        digest = hashlib.sha256()
        while chunk := layer.read(1 << 20):
            digest.update(chunk)
        size = layer.tell()
        diff_id = digest.hexdigest()
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "WorkingDir": "/app"},
                "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
                "history": [{"created_by": f"bench/mkimage.py {src.name}"}],
            }
        ).encode()
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": [f"{diff_id}/layer.tar"]}]).encode()
        with tarfile.open(out, mode="w") as image:
            layer.seek(0)
            info = tarfile.TarInfo(f"{diff_id}/layer.tar")
            info.size = size
            image.addfile(info, layer)
            for name, data in ((config_name, config), ("manifest.json", manifest)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                image.addfile(info, io.BytesIO(data))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("src", type=Path, help="directory to put in the image under /app")
    p.add_argument("out", type=Path, help="tarball to write")
    p.add_argument("--tag", default="bench/target:latest")
    args = p.parse_args()
    build(args.src.resolve(), args.out, args.tag)
    print(f"{args.out}: {args.out.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
