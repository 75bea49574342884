"""stagecoach: track files through processing."""

__version__ = "0.1.0"
