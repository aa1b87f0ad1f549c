"""Tables as people read them: Markdown for materialization metadata and reports."""

from __future__ import annotations


def markdown_table(rows: list[dict]) -> str:
    if not rows:
        return "_(no rows)_"
    head = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join("" if r.get(h) is None else str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines)
