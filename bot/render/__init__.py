"""Turning events, views and messages into text (Jinja2 templates) and pictures (charts)."""
