"""``triptych train``: reproduce a shipped checkpoint from scratch.

The group lives here; each trainer adds its subcommand from its own module
(``train_models.py``, ``train_judge.py``) with ``@train.command(...)``.
"""

from __future__ import annotations

import click


@click.group()
def train() -> None:
    """Train one of the built-in networks (seeded, resumable, writes its model card)."""


COMMANDS = [train]
