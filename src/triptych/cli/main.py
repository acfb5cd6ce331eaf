"""Entry point: a click group that collects the commands of every module in ``commands/``.

Discovery keeps command modules independent (one concept per file) and lets new command
groups land without editing a shared list.
"""

from __future__ import annotations

import importlib
import pkgutil

import click

from triptych import __version__
from triptych.cli import commands as commands_pkg


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="triptych")
def cli() -> None:
    """Triptych: many image models, one place, one credit balance."""


def _load_commands() -> None:
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands_pkg.__name__}.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_load_commands()


def main() -> None:
    cli()
