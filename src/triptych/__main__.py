"""``python -m triptych`` is the ``triptych`` command."""

from triptych.cli.main import main

main()
