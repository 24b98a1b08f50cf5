"""Paged REST listings (GitHub, GitLab): where the next page is. Each caller bounds its own loop."""

from __future__ import annotations

import re

from scanner.transport import Response

_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_PAGE = re.compile(r"([?&]page=)\d+")


def next_page(response: Response, current: str) -> str | None:
    """The URL of the page after ``current``: ``Link: <…>; rel="next"``, else GitLab's ``X-Next-Page`` number
    put into ``current``'s ``page=``; None on the last page."""
    for link in response.header_list("link"):
        match = _NEXT.search(link)
        if match:
            return match.group(1)
    page = response.header("x-next-page").strip()
    if not page.isdigit():
        return None
    if _PAGE.search(current):
        return _PAGE.sub(rf"\g<1>{page}", current)
    return f"{current}{'&' if '?' in current else '?'}page={page}"
