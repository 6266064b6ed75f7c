"""``python -m postrender``: the same as the ``weave-postrender`` command."""

from .cli import main

main()
