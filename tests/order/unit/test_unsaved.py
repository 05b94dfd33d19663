"""A new order's columns before intake writes them: the model's defaults, resolved once at import."""

from xinren_order.models import OrderTimelineEntry, SalesOrder
from xinren_order.repository import unsaved_entry, unsaved_order


def test_an_unsaved_order_or_entry_starts_from_the_models_defaults():
    for model, make in ((SalesOrder, unsaved_order), (OrderTimelineEntry, unsaved_entry)):
        unsaved = make()
        columns = [c.name for c in model.__table__.columns]
        assert columns
        for name in columns:
            assert getattr(unsaved, name) == model.model_fields[name].get_default(call_default_factory=True), name


def test_two_unsaved_orders_share_no_mutable_default():
    first, second = unsaved_order(), unsaved_order()
    mutable = [n for n in SalesOrder.model_fields if isinstance(getattr(first, n, None), (list, dict, set))]
    assert mutable  # the JSON columns (trust rights, items, …)
    for name in mutable:
        assert getattr(first, name) is not getattr(second, name), name
