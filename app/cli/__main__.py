"""``python -m app.cli``: the ``scv`` command, as the gateway's own processes start it."""

from app.cli.commands import main

main()
