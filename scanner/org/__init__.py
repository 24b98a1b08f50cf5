"""Org-wide scans (issue #15): every repository of a GitHub org or user, a GitLab group or a list, each mirrored
and scanned over its full history as one Dask task; an incremental SQLite store; one merged report.

listing   targets → ``Repo`` (name, clone URL) through the platforms' REST APIs (paging, rate limits)
mirror    a bare ``git clone --mirror`` per repository in the cache folder, fetched again on the next run
tasks     one repository's task: mirror, plan (full or only new commits), scan through the pipeline, plain data back
store     SQLite: schema version, per repository its tips, scanned commits and findings (fingerprints only)
merge     task results + the store → new / still-present / gone, and one ``ScanResult`` for the reporters
engine    the Dask client: a ``LocalCluster`` of processes or an existing scheduler; results written as they come
html      the self-contained HTML report
"""
