"""Server-side push protection: ``leakstop hook pre-receive`` (``hooks/pre-receive`` runs it) for plain git
servers, GitLab server hooks and GitHub Enterprise Server pre-receive hooks.

environment  the hook's environment: the repository, the quarantine, who pushes, GitLab or not
hook         ref lines → a ``push`` request with a deadline → the decision, its message and audit record
messages     what the pusher reads: the rejection (what, where, how to fix or bypass) or one line
blobcache    blob ids already scanned clean (SQLite), so re-pushed content is not scanned again
"""
