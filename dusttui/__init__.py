"""dusttui — a terminal tool for Dust app runs, with an embedded protocol-exact runs engine."""

__version__ = "0.1.0"
