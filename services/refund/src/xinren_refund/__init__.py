"""Xinren refund service."""
