"""The README documents every command and option the CLI has (so the reference never goes stale)."""

from __future__ import annotations

import typer

from conftest import REPO
from forecast.cli import app


def test_readme_lists_every_command_and_option():
    readme = (REPO / "README.md").read_text()
    missing = []
    for name, command in typer.main.get_command(app).commands.items():
        if f"### `forecast {name}" not in readme:
            missing.append(f"command {name}")
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                section = readme.split(f"### `forecast {name}", 1)[-1].split("### `forecast ", 1)[0]
                missing += [f"{name} {opt}" for opt in param.opts if f"`{opt}`" not in section]
    assert not missing, f"README is missing: {missing}; regenerate the command reference"
