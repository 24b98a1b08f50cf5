"""Sources turn a scan target into ``Chunk``s and record what they could not scan as ``ScanIssue``s."""
