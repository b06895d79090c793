"""fraudlens: fake-review and fraudulent-order detection for marketplaces."""

__version__ = "0.1.0"
