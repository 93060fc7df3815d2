"""kosprice: governed per-region price models for Indonesian boarding houses (kos)."""

__version__ = "0.1.0"
