"""The trust service's writes; each handler runs in one transaction.

facts: what other services' events tell (orders, QC, after-sales) turned into observations and violations ·
scoring: observations and the incremental recompute of one subject's score · enforcement: the ladder, standing and
reinstatement · appeals: filing, deciding and reversing.
"""
