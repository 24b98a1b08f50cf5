"""Issue #18 items 1, 5 and the watchdog, in process: corrupt loose objects, a worker that raises or dies, a
``git`` that stops answering. Each would have been an endless wait; each must end in seconds with an issue or an
error naming what went wrong."""

from __future__ import annotations

import json
import os
import signal
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from gitrepo import EPOCH, Repo, isolate_git
from helpers import MakeConfig, RunCli
from tokens import TokenFactory

from scanner import lifeline
from scanner.detect.engine import Detector
from scanner.errors import ScanAborted
from scanner.lifeline import Terminated, child_setup, die_with_parent, guarded, install_handlers, restore_handlers
from scanner.models import Chunk, GitOrigin
from scanner.pipeline import workers
from scanner.pipeline.detection import ChunkDetector
from scanner.pipeline.workers import WorkerPool
from scanner.ruleset import Ruleset
from scanner.sources.base import BlobRead, BlobRef
from scanner.sources.git import loose
from scanner.sources.git import repo as git_repo
from scanner.sources.git.loose import check_loose, corrupt_loose, guard, object_dirs_of
from scanner.watchdog import Watchdog


@pytest.fixture(autouse=True)
def _git_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo.init(tmp_path / "repo", clock=[EPOCH])


Scan = Callable[..., tuple[int, dict[str, Any], str]]


@pytest.fixture
def scan(run_cli: RunCli, make_config: MakeConfig) -> Scan:
    config = make_config()

    def run(path: Path, *flags: str) -> tuple[int, dict[str, Any], str]:
        code, out, err = run_cli("scan", "--format", "json", "--no-progress", "--config", config, *flags, path)
        return code, (json.loads(out) if out.strip() else {}), err

    return run


def _truncate(repo: Repo, oid: str) -> Path:
    loose = repo.path / ".git" / "objects" / oid[:2] / oid[2:]
    data = loose.read_bytes()
    loose.chmod(0o644)
    loose.write_bytes(data[: len(data) // 2])
    return loose


def _issues(report: dict[str, Any], reason: str) -> list[dict[str, Any]]:
    return [issue for issue in report["issues"] if issue["reason"] == reason]


# --- corrupt loose objects (item 1) ---


def test_check_loose_names_each_kind_of_damage(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.write_bytes(zlib.compress(b"blob 5\0hello"))
    cases = {
        "truncated": zlib.compress(b"blob 5000\0" + os.urandom(5000))[:100],
        "inflate": b"not zlib at all",
        "no object header": zlib.compress(b"thing 5\0hello"),
        "header says 9 bytes": zlib.compress(b"blob 9\0hello"),
    }
    assert check_loose(str(good)) == ""
    for expected, data in cases.items():
        path = tmp_path / expected.replace(" ", "-")
        path.write_bytes(data)
        assert expected in check_loose(str(path)), expected
    assert "cannot read it" in check_loose(str(tmp_path / "absent"))


def test_alternates_and_extra_dirs_are_checked_too(tmp_path: Path, repo: Repo) -> None:
    repo.commit("one", {"a.txt": "a\n"})
    other = tmp_path / "other-objects"
    (other / "ab").mkdir(parents=True)
    (other / "ab" / ("c" * 38)).write_bytes(b"junk")
    info = repo.path / ".git" / "objects" / "info"
    info.mkdir(exist_ok=True)
    (info / "alternates").write_text(f"# a comment\n{other}\n", encoding="utf-8")
    dirs = object_dirs_of(str(repo.path / ".git"), [str(other)])
    assert dirs == [str(repo.path / ".git" / "objects"), str(other)]  # named twice, checked once
    assert list(corrupt_loose(dirs)) == ["ab" + "c" * 38]


@pytest.mark.parametrize("flags", [("--history",), ("--range", "HEAD~2..HEAD")])
@pytest.mark.parametrize("git", ["git", "libgit2 only"])
def test_a_corrupt_blob_is_an_issue_and_the_rest_is_scanned(
    repo: Repo, scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...], git: str
) -> None:
    if git != "git":
        from scanner.sources.git import blobs, walk

        monkeypatch.setattr(walk, "git_usable", lambda: False)
        monkeypatch.setattr(blobs, "git_usable", lambda: False)
    repo.commit("base", {"README": "base\n"})
    repo.commit("two", {"notes.txt": "some notes that will be damaged\n" * 20})
    token = tokens.github_clean()
    repo.commit("three", {"app.env": f"GITHUB_TOKEN={token}\n"})
    blob = repo.git("rev-parse", "HEAD~1:notes.txt")
    _truncate(repo, blob)
    started = time.monotonic()
    code, report, _err = scan(repo.path, *flags)
    assert time.monotonic() - started < 20
    assert code == 1  # the token of the commit after the damaged one is found
    assert [issue["path"] for issue in _issues(report, "corrupt-object")] == [blob]
    assert "object corrupt" in _issues(report, "corrupt-object")[0]["message"]
    assert [i["path"] for i in _issues(report, "missing-object")] == [
        f"notes.txt@{repo.git('rev-parse', 'HEAD~1')[:12]}"
    ]


def test_a_corrupt_head_commit_without_git_on_path(repo: Repo, scan: Scan, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hostile suite's case through libgit2 alone: no ``git`` to read the log or the blobs."""
    repo.commit("one", {"a.txt": "a\n"})
    head = repo.commit("two", {"b.txt": "b\n"})
    _truncate(repo, head)
    monkeypatch.setenv("PATH", str(repo.path / "no-such-dir"))
    git_repo.git_version.cache_clear()
    try:
        code, report, _err = scan(repo.path, "--history")
    finally:
        git_repo.git_version.cache_clear()
    assert code == 0
    assert [issue["path"] for issue in _issues(report, "corrupt-object")] == [head]


# --- a worker that raises or dies (item 5) ---


class FailingReader:
    """Reads every blob as a line of text, but raises on the path ``bad`` (or at ``close``, for ``close_fails``)."""

    def __init__(self, bad: str = "", delay: float = 0.0) -> None:
        self.bad, self.delay = bad, delay

    def read(self, refs: Sequence[BlobRef]) -> Iterator[BlobRead]:
        for ref in refs:
            time.sleep(self.delay)
            if ref.path == self.bad:
                raise RuntimeError(f"parser crashed on {ref.path}")
            yield BlobRead(ref, 4)

    def close(self) -> None:
        pass


def _refs(count: int) -> list[BlobRef]:
    return [BlobRef(f"{n:040x}", f"f{n}", "c" * 40, n) for n in range(count)]


@pytest.mark.parametrize("workers", [1, 2])
def test_an_exception_in_a_worker_is_that_blobs_issue(
    github_detector: Detector, github_ruleset: Ruleset, workers: int
) -> None:
    pool = WorkerPool(lambda: FailingReader("f7"), ChunkDetector(github_detector, github_ruleset), workers)
    try:
        for ref in _refs(70):
            pool.submit(ref)
        batches = list(pool.ready()) + list(pool.finish())
    finally:
        pool.close()
    assert sum(b[0] for b in batches) == 70
    failed = [o for b in batches for o in b[2] if o.skipped]
    assert [(o.ref.path, o.skipped) for o in failed] == [("f7", "scan-error")]
    assert f"blob {7:040x}: RuntimeError at test_never_hang.py:" in failed[0].message
    assert "parser crashed" not in failed[0].message  # the type and place, never the message


def test_a_detection_that_raises_is_that_blobs_issue() -> None:
    class Broken:
        def detect(self, chunk: Any) -> Any:
            raise ValueError("boom")

    pool = WorkerPool(FailingReader, Broken(), 1)  # type: ignore[arg-type]

    class ChunkReader(FailingReader):
        def read(self, refs: Sequence[BlobRef]) -> Iterator[BlobRead]:
            for ref in refs:
                yield BlobRead(ref, 1, (Chunk(b"x", GitOrigin(ref.path, ref.commit)),))

    pool.inline = ChunkReader()
    pool.submit(_refs(1)[0])
    outcomes = [o for b in pool.finish() for o in b[2]]
    assert [(o.skipped, "cannot scan blob" in o.message) for o in outcomes] == [("scan-error", True)]


def test_a_worker_that_cannot_start_stops_the_scan(github_detector: Detector, github_ruleset: Ruleset) -> None:
    def make() -> FailingReader:
        raise OSError("no repository")

    pool = WorkerPool(make, ChunkDetector(github_detector, github_ruleset), 2)
    try:
        for ref in _refs(10):
            pool.submit(ref)
        with pytest.raises(ScanAborted, match=r"worker process \d failed: OSError at test_never_hang.py:\d+"):
            list(pool.finish())
    finally:
        pool.close()
    assert not any(p.is_alive() for p in pool.processes)


def test_work_sent_to_a_worker_that_already_failed_says_why(github_detector: Detector, github_ruleset: Ruleset) -> None:
    """The worker failed and exited before the first batch went out: the send fails, and the error is the
    worker's own last message, not a broken pipe."""

    def make() -> FailingReader:
        raise OSError("no repository")

    pool = WorkerPool(make, ChunkDetector(github_detector, github_ruleset), 2)
    try:
        for process in pool.processes:
            process.join(10)
        with pytest.raises(ScanAborted, match=r"worker process \d failed: OSError"):
            for ref in _refs(workers.BATCH * 4):
                pool.submit(ref)
    finally:
        pool.close()


def test_a_worker_killed_with_sigkill_stops_the_scan_in_seconds(
    github_detector: Detector, github_ruleset: Ruleset
) -> None:
    pool = WorkerPool(lambda: FailingReader(delay=0.05), ChunkDetector(github_detector, github_ruleset), 2)
    try:
        for ref in _refs(400):
            pool.submit(ref)
        victim = pool.processes[0]
        os.kill(victim.pid or 0, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(ScanAborted, match=rf"worker process 1 \(pid {victim.pid}\) was killed by SIGKILL"):
            list(pool.ready())
            list(pool.finish())
        assert time.monotonic() - started < 5
    finally:
        pool.close()
    assert not any(p.is_alive() for p in pool.processes)


# --- the watchdog on git reads ---


def _fake_git(tmp_path: Path, stuck: str) -> Path:
    """A ``git`` on PATH that hangs on one subcommand (``cat-file`` or ``log``) and runs the real one otherwise."""
    real = next(Path(d, "git") for d in os.environ["PATH"].split(os.pathsep) if os.access(Path(d, "git"), os.X_OK))
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    script = bin_dir / "git"
    script.write_text(
        f'#!/bin/sh\nfor a in "$@"; do [ "$a" = "{stuck}" ] && exec sleep 60; done\nexec "{real}" "$@"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize("stuck", ["cat-file", "log"])
def test_a_git_that_stops_answering_is_killed_and_libgit2_reads_instead(
    tmp_path: Path,
    repo: Repo,
    scan: Scan,
    tokens: TokenFactory,
    monkeypatch: pytest.MonkeyPatch,
    stuck: str,
) -> None:
    token = tokens.github_clean()
    repo.commit("one", {"a.txt": "a\n"})
    repo.commit("two", {"app.env": f"GITHUB_TOKEN={token}\n"})
    monkeypatch.setenv("PATH", f"{_fake_git(tmp_path, stuck)}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(git_repo, "GIT_READ_TIMEOUT", 1.0)
    git_repo.git_version.cache_clear()
    started = time.monotonic()
    try:
        code, report, _err = scan(repo.path, "--history", "--workers", "1")
    finally:
        git_repo.git_version.cache_clear()
    assert time.monotonic() - started < 15
    assert code == 1 and len(report["findings"]) == 1
    if stuck == "log":
        [issue] = _issues(report, "git-log-failed")
        assert "no output for 1s" in issue["message"]


def test_the_watchdog_fires_once_and_not_after_disarm() -> None:
    fired: list[float] = []
    dog = Watchdog("test")
    dog.arm(0.05, lambda: fired.append(time.monotonic()))
    time.sleep(0.4)
    assert len(fired) == 1 and dog.fired
    dog.arm(0.2, lambda: fired.append(time.monotonic()))
    dog.disarm()
    time.sleep(0.4)
    assert len(fired) == 1
    dog.rearm(0.05)  # the same action again, by a plain write: the thread is still there
    time.sleep(0.4)
    assert len(fired) == 2


def test_a_pool_that_answers_nothing_for_stall_seconds_stops_the_scan(
    github_detector: Detector, github_ruleset: Ruleset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "STALL", 0.5)
    pool = WorkerPool(lambda: FailingReader(delay=30), ChunkDetector(github_detector, github_ruleset), 2)
    started = time.monotonic()
    try:
        for ref in _refs(4):
            pool.submit(ref)
        with pytest.raises(ScanAborted, match=r"no worker process answered for 0.5s"):
            list(pool.finish())
    finally:
        pool.close()
    assert time.monotonic() - started < 5
    assert not any(p.is_alive() for p in pool.processes)


# --- the guarded object store and the process lifeline ---


def test_the_guarded_store_serves_every_other_object(repo: Repo) -> None:
    import pygit2

    repo.commit("one", {"a.txt": "a\n", "b.txt": "b\n"})
    good = repo.git("rev-parse", "HEAD:a.txt")
    bad = repo.git("rev-parse", "HEAD:b.txt")
    _truncate(repo, bad)
    git_dir = str(repo.path / ".git")
    dirs = object_dirs_of(git_dir)
    handle = pygit2.Repository(git_dir)
    guard(handle, dirs, corrupt_loose(dirs))
    odb = handle.odb
    assert odb.read_header(good)[1] == 2 and odb.exists(good) and good in odb
    assert bytes(handle.revparse_single(good[:10]).read_raw()) == b"a\n"  # by prefix
    with pytest.raises(pygit2.GitError, match=f"object corrupt: loose object {bad}"):
        odb.read(bad)
    with pytest.raises(pygit2.GitError, match="object corrupt"):
        handle.revparse_single(bad[:10])
    with pytest.raises(KeyError):
        odb.read("f" * 40)  # not there at all: libgit2 refreshes every backend, then says so
    backend = loose._guarded_backend(dirs[0], {})  # what the store lists: every loose object
    assert {str(oid) for oid in backend} >= {good, bad}


def test_a_child_whose_parent_is_gone_ends_at_once() -> None:
    import multiprocessing

    process = multiprocessing.get_context("fork").Process(target=die_with_parent, args=(-1,))
    process.start()
    process.join(10)
    assert process.exitcode == 1


@pytest.mark.skipif(os.uname().sysname != "Linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_child_setup_made_in_the_parent_gives_the_child_its_death_signal() -> None:
    """What a git child and a history worker run first: ``child_setup``, made in the parent (which looks ``prctl``
    up, so that no child loads a library), asks the kernel for SIGKILL when the parent ends."""
    import ctypes
    import multiprocessing

    setup = child_setup()
    reader, writer = os.pipe()

    def child() -> None:
        setup()
        value = ctypes.c_int(0)
        ctypes.CDLL(None).prctl(2, ctypes.byref(value), 0, 0, 0)  # PR_GET_PDEATHSIG
        os.write(writer, str(value.value).encode())

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(10)
    os.close(writer)
    assert process.exitcode == 0
    assert os.read(reader, 16) == str(int(signal.SIGKILL)).encode()
    os.close(reader)


_PRINT_DEATH_SIGNAL = (  # PR_GET_PDEATHSIG
    "import ctypes; value = ctypes.c_int(0); ctypes.CDLL(None).prctl(2, ctypes.byref(value), 0, 0, 0); "
    "print(value.value)"
)


def _death_signal_of_a_guarded_child() -> tuple[int, list[str], Any]:
    import subprocess
    import sys

    argv, setup = guarded([sys.executable, "-c", _PRINT_DEATH_SIGNAL])
    done = subprocess.run(argv, preexec_fn=setup, capture_output=True, text=True, check=True)
    return int(done.stdout), argv, setup


@pytest.mark.skipif(os.uname().sysname != "Linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_guarded_child_gets_its_death_signal_through_setpriv_without_a_preexec_fn() -> None:
    """``guarded``: a long-lived git child asks for SIGKILL when its parent ends, and, where ``setpriv`` can set it,
    is started with no ``preexec_fn`` (so ``subprocess`` uses ``vfork``, not a fork of the whole scan)."""
    lifeline.setpriv_path.cache_clear()
    try:
        signum, argv, setup = _death_signal_of_a_guarded_child()
        assert signum == signal.SIGKILL
        if lifeline.setpriv_path() is None:
            pytest.skip("no setpriv with --pdeathsig here: the preexec_fn path (tested below) is the one in use")
        assert setup is None and os.path.basename(argv[0]) == "setpriv" and argv[1:4] == ["--pdeathsig", "KILL", "--"]
    finally:
        lifeline.setpriv_path.cache_clear()


@pytest.mark.skipif(os.uname().sysname != "Linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_without_setpriv_a_guarded_child_gets_its_death_signal_from_its_preexec_fn(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No ``setpriv`` on ``PATH`` (or one too old for ``--pdeathsig``, which fails the probe the same way): the
    command line is unchanged and ``child_setup`` runs in the child, as before."""
    old = tmp_path / "bin" / "setpriv"
    old.parent.mkdir()
    old.write_text("#!/bin/sh\necho 'setpriv: unrecognized option' >&2\nexit 1\n")
    old.chmod(0o755)
    monkeypatch.setenv("PATH", f"{old.parent}{os.pathsep}{os.environ['PATH']}")
    lifeline.setpriv_path.cache_clear()
    try:
        signum, argv, setup = _death_signal_of_a_guarded_child()
        assert signum == signal.SIGKILL and setup is not None and "setpriv" not in argv[0]
    finally:
        lifeline.setpriv_path.cache_clear()


def test_sigterm_and_sighup_raise_terminated_in_the_main_thread_only() -> None:
    import threading

    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        thread = threading.Thread(target=install_handlers)
        thread.start()
        thread.join()
        assert signal.getsignal(signal.SIGTERM) is saved[signal.SIGTERM]  # another thread cannot set them
        replaced = install_handlers()
        with pytest.raises(Terminated) as info:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(1)
        assert info.value.signum == signal.SIGHUP and str(info.value) == "SIGHUP"
        restore_handlers(replaced)
        assert signal.getsignal(signal.SIGTERM) is saved[signal.SIGTERM]
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def test_output_goes_whole_to_a_file_and_as_it_is_to_a_device(
    tmp_path: Path, repo: Repo, run_cli: RunCli, make_config: MakeConfig
) -> None:
    config = make_config()
    repo.commit("one", {"a.txt": "a\n"})
    report = tmp_path / "out" / "report.json"
    report.parent.mkdir()
    report.write_text("old", encoding="utf-8")
    assert run_cli("scan", "--config", config, "--format", "json", "--output", report, repo.path)[0] == 0
    assert json.loads(report.read_text(encoding="utf-8"))["findings"] == []
    assert os.listdir(report.parent) == ["report.json"]  # no temporary file left
    assert run_cli("scan", "--config", config, "--output", os.devnull, repo.path)[0] == 0


def test_staged_through_pygit2_with_a_corrupt_head_ends(
    repo: Repo, scan: Scan, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanner.sources.git import staged

    monkeypatch.setattr(staged, "git_available", lambda: False)
    repo.commit("one", {"a.txt": "a\n"})
    head = repo.commit("two", {"b.txt": "b\n"})
    repo.write({"app.env": f"GITHUB_TOKEN={tokens.github_clean()}\n"})
    repo.git("add", "app.env")
    _truncate(repo, head)
    started = time.monotonic()
    code, _report, err = scan(repo.path, "--staged")
    assert time.monotonic() - started < 20
    assert code == 2  # HEAD's tree is needed to tell what is staged: a one-line error naming the object
    assert f"object corrupt: loose object {head}" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("workers", [1, 2])
def test_forked_workers_share_the_loaded_hyperscan_database(github_ruleset: Ruleset, workers: int) -> None:
    """A small-first detector (the scan pipeline's) loads Hyperscan before the pool forks, so the workers share
    one copy instead of each loading its own; scanning inline keeps it unloaded until the input needs it."""
    pytest.importorskip("hyperscan")
    detector = Detector(github_ruleset, small_first=True)
    assert detector.engine == "python"
    pool = WorkerPool(lambda: FailingReader("none"), ChunkDetector(detector, github_ruleset), workers)
    pool.close()
    assert detector.engine == ("hyperscan" if workers > 1 else "python")
