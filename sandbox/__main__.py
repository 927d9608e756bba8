"""``python -m sandbox``: serve the four sandbox systems (see ``sandbox/README.md``)."""

from sandbox.cli import main

main()
