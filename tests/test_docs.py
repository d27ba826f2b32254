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


def _options(command_name: str) -> dict:
    command = typer.main.get_command(app).commands[command_name]
    return {p.name: p for p in command.params if p.param_type_name == "option"}


def test_readme_option_rows_match_the_help_text():
    """Each option row in the README says what --help says, defaults included."""
    readme = (REPO / "README.md").read_text().replace("\\[", "[")
    stale = []
    for name in typer.main.get_command(app).commands:
        section = readme.split(f"### `forecast {name}", 1)[-1].split("### `forecast ", 1)[0]
        for opt in _options(name).values():
            if opt.name == "help" or not opt.help:
                continue
            row = next((line for line in section.splitlines() if line.startswith(f"| `{opt.opts[0]}`")), "")
            if opt.help.replace("\\[", "[") not in row:
                stale.append(f"{name} {opt.opts[0]}: README {row!r} vs help {opt.help!r}")
    assert not stale, "\n".join(stale)


def test_help_defaults_are_the_config_defaults():
    from forecast.config import RunConfig

    cfg = RunConfig()
    fields = {"max_fill": cfg.data.max_fill, "window": cfg.window.window, "horizon": cfg.window.horizon,
              "transform": cfg.window.transform, "val_frac": cfg.window.val_frac, "test_frac": cfg.window.test_frac,
              "layers": ",".join(map(str, cfg.model.layers)), "dropout": cfg.model.dropout,
              "epochs": cfg.train.epochs, "batch_size": cfg.train.batch_size, "patience": cfg.train.patience,
              "learning_rate": cfg.train.learning_rate, "seed": cfg.train.seed}
    opts = _options("train")
    shown = {name: opts[name].help.rsplit("[default: ", 1)[-1].rstrip("].") for name in fields}
    assert shown == {name: str(value) for name, value in fields.items()}
    assert shown["batch_size"] == "512" and shown["learning_rate"] == "0.006"
