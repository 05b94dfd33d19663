"""The refund service's writes, one module per use case; each handler runs in one transaction.

cases: the mechanics every case step shares · commands: what buyers, sellers and admins ask for ·
projection: the order view from `xinren.orders.v1` · platform_refunds: QC outcomes, paid cancellations, late
shipments · money_answers: the order service's answers to our money requests · timers: deadlines and re-sends.
"""
