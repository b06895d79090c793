"""``python -m fraudlens.cli``: the same commands as the ``fraudlens`` script."""

from fraudlens.cli import app

app()
