"""The one error of the fast path, shared by its parts."""


class Unsupported(Exception):
    """The model has a shape the fast path does not cover; serve it through scikit-learn."""
