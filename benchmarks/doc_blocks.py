"""docs/benchmarks.md is written by the scripts that measured it: each owns the text between its
``<!-- marker:start -->`` and ``<!-- marker:end -->`` lines, and nothing else."""

from __future__ import annotations

from pathlib import Path


def update_doc(doc: Path, marker: str, body: str, section: str) -> None:
    """Replaces the block of ``marker``; a new block goes at the end of ``## section`` (created if absent)."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    heading = f"## {section}"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if start in text and end in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    elif heading in text:
        head, _, tail = text.partition(heading)
        section_end = tail.find("\n## ")
        if section_end < 0:
            text = f"{head}{heading}{tail.rstrip()}\n\n{block}\n"
        else:
            text = f"{head}{heading}{tail[:section_end].rstrip()}\n\n{block}\n{tail[section_end:]}"
    else:
        text = f"{text.rstrip()}\n\n{heading}\n\n{block}\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
