"""A history scan's start through git's command line (``sources/git/gitcli.py``): the same tips, tag messages and
commit metadata as libgit2's, no pygit2 in the scan's processes, and libgit2 wherever the plain case does not hold.

Every test drives real repositories through the ``git`` CLI; pygit2 is the reference the parsed objects must equal.
Odd objects (bytes that are not UTF-8, signature lines libgit2 reads in its own way) are written with
``git hash-object --literally``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pygit2
import pytest
from helpers import MakeConfig, RunCli
from tokens import TokenFactory

from scanner.models import ScanStats
from scanner.sources.base import Skips
from scanner.sources.git import gitcli, planahead
from scanner.sources.git.libgit2walk import history_tips
from scanner.sources.git.repo import git_environment
from scanner.sources.git.source import CommitSource, LazyRepository
from tests.gitrepo import Repo, isolate_git


@pytest.fixture(autouse=True)
def _git_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo.init(tmp_path / "repo")


def _signature(person: Any) -> tuple[str, str, int, int]:
    return (person.name, person.email, person.time, person.offset)


def _commit_fields(commit: Any) -> tuple[object, ...]:
    return (str(commit.id), _signature(commit.author), _signature(commit.committer), commit.message)


def _raw_object(repo: Repo, kind: str, body: bytes) -> str:
    done = subprocess.run(
        ["git", "hash-object", "--literally", "-t", kind, "-w", "--stdin"],
        cwd=repo.path, input=body, capture_output=True, check=True,
    )  # fmt: skip
    return done.stdout.decode().strip()


@pytest.fixture
def odd(repo: Repo) -> Repo:
    """Commits and tags with what a parser can get wrong, all reachable from refs, HEAD detached on the last."""
    repo.commit("first\n\nbody", {"a.txt": "a\n"})
    tree = repo.git("rev-parse", "HEAD^{tree}")
    parent = repo.head()
    bodies = [
        b"author N\xe9me <x@y> 1700000000 -0230\ncommitter C <c@d> 1700000100 +0545\n\n\n\nleading newlines",
        b"author \t <c@d> 1700000000 +0100\ncommitter  <> 12 -0000\ngpgsig -----BEGIN\n line\n -----END\n\nsigned",
        b"author  spaced \t <\xffx@y > 1700000000 +1400\ncommitter C <c@d> 0 -0000\n\nbad byte \xff",
    ]
    for number, body in enumerate(bodies):
        parent = _raw_object(repo, "commit", f"tree {tree}\nparent {parent}\n".encode() + body)
        repo.git("update-ref", f"refs/heads/odd{number}", parent)
    repo.git("tag", "-a", "v1", "-m", "release \u00e9\n\nnotes", "refs/heads/odd0")
    repo.git("tag", "-a", "v2", "-m", "", "refs/heads/odd1")
    repo.git("tag", "light", "refs/heads/odd2")
    blob = repo.git("rev-parse", "HEAD:a.txt")
    repo.git("tag", "-a", "blobtag", "-m", "tags a blob", blob)  # not a commit: no tip
    repo.git("notes", "add", "-m", "a note", "HEAD")
    repo.git("checkout", "-q", "--detach", parent)
    return repo


def test_the_plan_and_every_object_read_by_git_equal_libgit2s(odd: Repo) -> None:
    env = git_environment()
    location, planned = planahead.read_plan(str(odd.path / "."))
    handle = pygit2.Repository(str(odd.path))
    assert location is not None and (location.path, location.workdir) == (handle.path, handle.workdir)
    assert location.head == str(handle.head.target) and location.shallow is False
    assert planned is not None
    tips, tags = planned
    skips = Skips([], ScanStats())
    assert [tip.id for tip in tips] == [str(c.id) for c in history_tips(handle, skips)]
    objects = gitcli.Objects(location.path, env)
    try:
        for line in odd.git("rev-list", "--all").split():
            found = objects.commit(line)
            assert found is not None and _commit_fields(found) == _commit_fields(handle[line])
        tagged = [handle[oid] for oid in tags]
        assert [(t.target, _signature(t.tagger), t.message) for t in objects.tags(tags) if t is not None] == [
            (str(t.target), _signature(t.tagger), t.message) for t in tagged
        ]
        assert objects.raw(["0" * 40]) == [("missing", b"")]
    finally:
        objects.close()


def test_a_history_scan_reports_the_same_with_and_without_pygit2_on_its_start(
    repo: Repo, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def scan() -> tuple[int, dict[str, Any]]:
        argv = ["scan", "--history", "--workers", "2", "--format", "json", "--show-secrets"]
        code, out, _err = run_cli(*argv, "--config", make_config(), repo.path)
        report = json.loads(out)
        del report["summary"]["duration_s"]
        return code, report

    repo.commit("add config\n\nLeakstop-Bypass: test fixture", {"app.env": f"GITHUB_TOKEN={tokens.github_clean()}\n"})
    repo.commit("more", {"b.env": f"GITHUB_TOKEN={tokens.github_clean()}\n"})
    repo.git("tag", "-a", "v1", "-m", f"release\n\ntoken {tokens.github_clean()}")
    code, fast = scan()
    monkeypatch.setattr(planahead, "read_plan", lambda _path: (None, None))
    assert (code, fast) == scan()
    assert len(fast["findings"]) == 3
    assert {f.get("bypass", {}).get("channel") for f in fast["findings"]} >= {"trailer"}


# The CLI in a fresh process (imports are per process) whose workers each write the modules they have into argv[1]
# when they end; the parent prints those it loaded after the interpreter's start (coverage's own start imports
# inspect) on stderr's last line.
_PROBE = (
    "import json, os, sys\n"
    "before = set(sys.modules)\n"
    "import scanner.pipeline.workers as w\n"
    "probe, main = sys.argv[1], w._worker_main\n"
    "def probed(*args, **kwargs):\n"
    "    try:\n"
    "        main(*args, **kwargs)\n"
    "    finally:\n"
    "        with open(os.path.join(probe, str(os.getpid())), 'w') as out:\n"
    "            out.write(' '.join(sys.modules))\n"
    "w._worker_main = probed\n"
    "from scanner.cli import main as cli\n"
    "code = cli(sys.argv[2:])\n"
    "print(json.dumps(sorted(set(sys.modules) - before)), file=sys.stderr)\n"
    "raise SystemExit(code)\n"
)


def test_a_history_scan_loads_no_pygit2_anywhere_and_no_inspect(repo: Repo, tokens: TokenFactory) -> None:
    repo.commit("one", {"a.txt": "a\n"})
    repo.commit("two", {"app.env": f"GITHUB_TOKEN={tokens.github_clean()}\n"})
    repo.git("tag", "-a", "v1", "-m", "release")
    probe = repo.path.parent / "probe"
    probe.mkdir()
    argv = ["scan", "--history", "--no-progress", "--workers", "2", "--format", "json", str(repo.path)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for _run in range(2):  # the first fills a cold cache (the rules' YAML): the second is the one measured
        for stale in probe.iterdir():
            stale.unlink()
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(probe), *argv], env=env, capture_output=True, text=True, check=False
        )
    parent = set(json.loads(done.stderr.splitlines()[-1]))
    assert done.returncode == 1 and len(json.loads(done.stdout)["findings"]) == 1
    assert "scanner.sources.git.gitcli" in parent and "pygit2" not in parent
    assert "inspect" not in parent  # every dataclass on the path has a docstring (scanner/deferinspect.py)
    workers = [path.read_text().split() for path in probe.iterdir()]
    assert len(workers) == 2 and all("scanner.sources.git.blobs" in names for names in workers)
    assert all("pygit2" not in names for names in workers)


@pytest.mark.parametrize(
    "line",
    [
        b"no email 1 +0100",
        b"A <a@b> notatime +0100",
        b"A <a@b> 1 +01",
        b"A <a@b>",
        b"A <a@b> 1 +0100 x",
        b"A <a@b> 1 +0960",
    ],
)
def test_a_signature_in_another_shape_is_left_to_libgit2(line: bytes) -> None:
    body = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor " + line + b"\ncommitter C <c@d> 1 +0000\n\nm"
    assert gitcli.parse_commit("0" * 40, body) is None
    assert gitcli.parse_tag(b"object " + b"0" * 40 + b"\ntagger " + line + b"\n\nm") is None


@pytest.mark.parametrize("case", ["stash", "tag-of-tag", "bare", "empty", "encoding"])
def test_what_the_plain_case_does_not_cover_is_left_to_libgit2(repo: Repo, tmp_path: Path, case: str) -> None:
    repo.commit("one", {"a.txt": "a\n"})
    path = repo.path
    if case == "stash":
        repo.write({"a.txt": "changed\n"})
        repo.git("stash", "-q")
    elif case == "tag-of-tag":
        repo.git("tag", "-a", "inner", "-m", "inner")
        repo.git("tag", "-a", "outer", "-m", "outer", "inner")
    elif case == "bare":
        path = tmp_path / "bare.git"
        repo.git("clone", "-q", "--bare", str(repo.path), str(path))
    elif case == "empty":
        path = tmp_path / "empty"
        Repo.init(path)
    else:
        tree = repo.git("rev-parse", "HEAD^{tree}")
        body = f"tree {tree}\nauthor A <a@b> 1 +0000\ncommitter A <a@b> 1 +0000\nencoding ISO-8859-1\n\nx\xe9"
        repo.git("update-ref", "refs/heads/latin", _raw_object(repo, "commit", body.encode("latin-1")))
    source = CommitSource(str(path), "history")
    try:
        fast = isinstance(source.repo, LazyRepository)
        if case == "encoding":  # the plan is git's; the commit with an encoding is read by libgit2
            assert fast and source.objects is not None
            oid = repo.rev("refs/heads/latin")
            assert source.objects.commit(oid) is None and source._commit(oid).message == "x\u00e9"
        else:
            assert not fast and source.objects is None
        list(source.items(Skips([], ScanStats())))
    finally:
        source.close()


def test_thousands_of_annotated_tags_are_read_without_a_pipe_deadlock(repo: Repo) -> None:
    """Their messages are asked for in windows: 3,000 ids written at once filled git's output pipe before git had
    read them all, and both processes waited for ever."""
    head = repo.commit("root", {"a.txt": "a\n"}).encode()
    message = b"a release note line that takes up room in the pipe " * 4 + b"\n"
    stream = b"".join(
        b"tag t%d\nfrom %s\ntagger A <a@example.com> 1700000000 +0000\ndata %d\n%s" % (i, head, len(message), message)
        for i in range(3000)
    )
    subprocess.run(["git", "-C", str(repo.path), "fast-import", "--quiet"], input=stream, check=True)
    source = CommitSource(str(repo.path), "history")
    assert source.objects is not None  # the plain case: tags are read by git, not libgit2
    _, tags = planahead.read_plan(str(repo.path))[1] or ([], [])
    assert len(tags) == 3000
    read = source.objects.tags(tags)
    assert len(read) == 3000 and all(t is not None and t.message == message.decode() for t in read)
    source.close()
