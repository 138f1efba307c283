"""Code Commons: an open, self-hostable, responsible code-LLM system."""

__version__ = "0.1.0"
