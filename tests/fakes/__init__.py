"""Fakes of external services used by tests (stdlib only)."""
