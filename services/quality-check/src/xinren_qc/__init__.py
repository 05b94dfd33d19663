"""Xinren quality-check service."""
