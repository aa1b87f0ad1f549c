"""Tables as people read them: Markdown for materialization metadata and reports."""

from __future__ import annotations


class Markdown(str):
    """Text meant to be rendered as Markdown (the wiring shows it as such in the UI)."""


def markdown_table(rows: list[dict]) -> Markdown:
    if not rows:
        return Markdown("_(no rows)_")
    head = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join("" if r.get(h) is None else str(r[h]) for h in head) + " |" for r in rows]
    return Markdown("\n".join(lines))
