"""CLI command modules. Each defines ``COMMANDS: list[click.Command]``; ``main`` finds them."""
