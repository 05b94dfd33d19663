"""Xinren order service."""
