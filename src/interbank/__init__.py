"""interbank: an open multi-currency interbank transfer and settlement network."""

__version__ = "0.1.0"
