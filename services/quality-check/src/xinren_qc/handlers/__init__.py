"""Commands and events that change quality check, one transaction each: routing (warehouses and where a case
goes), inspection (a case from order.paid to dispatch, cancellation or expiry) and enforcement (strikes)."""
