"""Toolkit plugins (see docs)."""
