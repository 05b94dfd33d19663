"""Xinren notify service."""
