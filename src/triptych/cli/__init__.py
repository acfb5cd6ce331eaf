"""The ``triptych`` command line. Each module in ``commands/`` contributes ``COMMANDS``."""
