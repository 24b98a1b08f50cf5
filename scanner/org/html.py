"""``--format html``: one self-contained file (no network, no CDN: the style and the filter script are inline) with
a summary, the findings grouped by repository and rule, and filters by rule, severity, verdict, validation state
and status. Every value from a repository is HTML-escaped, and only redacted text is in it: the rows come from
the tasks' plain data, which never holds a secret."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from itertools import groupby
from typing import Any, TextIO

from scanner.org.merge import OrgRun

FILTERS = (
    ("rule", "rule"),
    ("severity", "severity"),
    ("verdict", "verdict"),
    ("validation", "validation"),
    ("status", "status"),
)

_STYLE = """
body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
code{background:#f4f4f4;padding:1px 3px}.block{color:#b00}.warn{color:#a60}.allow{color:#070}
section.repo{margin-top:1.5em}h3{margin:.8em 0 .3em;font-size:1em}.filters label{margin-right:1em}
"""

# Hide the rows a filter leaves out, then the rule groups and repositories left with no row.
_SCRIPT = """
(function(){
  var selects=document.querySelectorAll('.filters select');
  function apply(){
    var want={};selects.forEach(function(s){if(s.value)want[s.name]=s.value;});
    var shown=0;
    document.querySelectorAll('tr.finding').forEach(function(tr){
      var ok=Object.keys(want).every(function(k){return tr.dataset[k]===want[k];});
      tr.hidden=!ok;if(ok)shown++;
    });
    document.querySelectorAll('.group,.repo').forEach(function(g){
      g.hidden=!g.querySelector('tr.finding:not([hidden])');
    });
    document.getElementById('shown').textContent=shown;
  }
  selects.forEach(function(s){s.addEventListener('change',apply);});
  apply();
})();
"""


def write_html(run: OrgRun, out: TextIO) -> None:
    out.write(render_html(run))


def render_html(run: OrgRun) -> str:
    rows = [{**row, "validation": row.get("validation") or "not-validated"} for row in run.rows]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline';"
        " script-src 'unsafe-inline'\">",
        f"<title>leakstop org scan</title><style>{_STYLE}</style></head><body>",
        "<h1>leakstop org scan</h1>",
        f'<p id="summary">{escape(run.summary())}</p>',
        _repo_table(run.repos),
        _filters(rows),
        f'<p><span id="shown">{len(rows)}</span> of {len(rows)} findings shown</p>',
    ]
    for repo, in_repo in groupby(rows, key=lambda r: str(r["repo"])):
        parts.append(f'<section class="repo" data-repo="{escape(repo)}"><h2>{escape(repo)}</h2>')
        for rule, in_rule in groupby(sorted(in_repo, key=lambda r: str(r["rule"])), key=lambda r: str(r["rule"])):
            parts.append(f'<div class="group"><h3>{escape(rule)}</h3><table>')
            parts.append(
                "<tr><th>status</th><th>verdict</th><th>severity</th><th>where</th><th>secret</th><th>snippet</th></tr>"
            )
            parts.extend(_row(row) for row in in_rule)
            parts.append("</table></div>")
        parts.append("</section>")
    parts.append(f"<script>{_SCRIPT}</script></body></html>\n")
    return "\n".join(parts)


def _repo_table(repos: Iterable[dict[str, Any]]) -> str:
    lines = [
        '<table id="repos"><tr><th>repository</th><th>mode</th><th>commits scanned</th><th>new</th>'
        "<th>still present</th><th>gone</th><th>seconds</th><th>error</th></tr>"
    ]
    for r in repos:
        cells = (r["name"], r["mode"], r["commits"], r["new"], r["present"], r["gone"], r["seconds"], r["error"])
        lines.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
    return "\n".join([*lines, "</table>"])


def _filters(rows: list[dict[str, Any]]) -> str:
    parts = ['<div class="filters">']
    for key, label in FILTERS:
        values = sorted({str(r.get(key, "")) for r in rows})
        options = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values)
        parts.append(f'<label>{label} <select name="{key}"><option value="">all</option>{options}</select></label>')
    parts.append("</div>")
    return "".join(parts)


def _row(row: dict[str, Any]) -> str:
    data = " ".join(f'data-{key}="{escape(str(row.get(key, "")))}"' for key, _ in FILTERS)
    where = f"{row.get('path', '')}:{row.get('line', '')}"
    commit = str(row.get("commit", ""))[:12]
    cells = [
        escape(str(row["status"])),
        f'<span class="{escape(str(row.get("verdict", "")))}">{escape(str(row.get("verdict", "")))}</span>',
        escape(str(row.get("severity", ""))),
        f"{escape(where)}<br><small>{escape(commit)}</small>",
        f"<code>{escape(str(row.get('redacted', '')))}</code>",
        f"<code>{escape(str(row.get('snippet', '')))}</code>",
    ]
    return f'<tr class="finding" {data}>' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
