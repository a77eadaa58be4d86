"""``python -m streams.cli``: the ``newsstream`` command (the worker's plugin processes are started so)."""

from streams.cli import main

main()
