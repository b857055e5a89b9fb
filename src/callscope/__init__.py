"""callscope: self-hosted real-time call supervision and conversation intelligence."""

__all__ = ["__version__"]

__version__ = "0.1.0"
