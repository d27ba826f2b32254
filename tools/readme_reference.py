"""Regenerate the README's command reference (each command's summary line and option table) from the Typer app.

    .venv/bin/python tools/readme_reference.py        # rewrites README.md in place; tests/test_docs.py checks it
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from forecast.cli import app

README = Path(__file__).resolve().parent.parent / "README.md"


def table(command) -> str:
    rows = ["| option | meaning |", "|---|---|"]
    for p in command.params:
        if p.param_type_name == "option" and p.name != "help":
            names = ", ".join(f"`{o}`" for o in p.opts)
            rows.append(f"| {names} | {(p.help or '').replace(chr(92) + '[', '[')} |")
    return "\n".join(rows)


def main() -> None:
    text = README.read_text()
    for name, command in typer.main.get_command(app).commands.items():
        head = re.search(rf"### `forecast {name}[^\n]*\n", text)
        if head is None:
            raise SystemExit(f"README has no section '### `forecast {name} ...`'; add one")
        start = head.end()
        end = text.find("\n### ", start)
        end = text.find("\n## ", start) if end == -1 else min(end, text.find("\n## ", start) % (len(text) + 1))
        section = text[start:end]
        summary = " ".join((command.help or "").split())
        body = re.sub(r"\n\| option \| meaning \|\n\|---\|---\|\n(\|[^\n]*\n?)*", "\n" + table(command) + "\n",
                      section, count=1)
        body = re.sub(r"^\n[^\n|`]+\n", f"\n{summary}\n", body, count=1)
        text = text[:start] + body + text[end:]
    README.write_text(text)


if __name__ == "__main__":
    main()
