"""The git sources: full history by unique blob, commit ranges, pushes, and staged changes.

repo        opening the repository, naming commits, commit metadata, the git CLI's environment
walk        commits oldest first through ``git log``: each new blob once (as a ``BlobRef``), commit messages
libgit2walk what libgit2 does for the walk: a history's tips, the fallback walk, annotated tags' messages
gitcli      a plain history's start without pygit2: the repository, tips and tags by git, commits by cat-file
ranges      what a history, range or push scan covers (tips and hidden commits) and a range's base
blobs       the worker side: blobs read through ``git cat-file`` (``catfile``) and cut to what changed
staged      the index against HEAD, through the git CLI (the hook's fast path) or pygit2; ``StagedSource``
trailers    the ``Leakstop-Bypass:`` trailer a commit may carry
source      ``CommitSource``: the ``Source`` of a history, range or push (``StagedSource`` is in staged, off the walk)
"""

SUBMODULE_MODE = 0o160000  # a gitlink (a submodule's commit) in a tree: here, so the hook's staged needs no repo
