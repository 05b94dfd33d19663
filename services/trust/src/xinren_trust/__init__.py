"""Xinren trust service: scores, graded enforcement (匹诺曹) and appeals."""
