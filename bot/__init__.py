"""rankbot: watches the public LLM token-usage rankings and posts alerts to chat channels."""

__version__ = "0.1.0"
