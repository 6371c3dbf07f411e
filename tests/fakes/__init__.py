"""Loopback fakes of the chat platforms, started by the tests on 127.0.0.1 (port 0)."""
