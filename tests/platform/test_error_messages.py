"""Every error code a service can answer with has its Chinese text (Chinese is the default language of errors), and
each service's app speaks it."""

import re
from pathlib import Path

import pytest

from xinren_notify import messages as notify_messages
from xinren_notify.app import create_app as notify_app
from xinren_order import messages as order_messages
from xinren_order.app import create_app as order_app
from xinren_qc import messages as qc_messages
from xinren_qc.app import create_app as qc_app
from xinren_refund import messages as refund_messages
from xinren_refund.app import create_app as refund_app
from xinren_shared.i18n import SHARED_MESSAGES_ZH, LocalizedErrorsMiddleware
from xinren_trust import messages as trust_messages
from xinren_trust.app import create_app as trust_app

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "order": ("services/order/src/xinren_order", order_messages.MESSAGES_ZH, order_app),
    "refund": ("services/refund/src/xinren_refund", refund_messages.MESSAGES_ZH, refund_app),
    "qc": ("services/quality-check/src/xinren_qc", qc_messages.MESSAGES_ZH, qc_app),
    "notify": ("services/notify/src/xinren_notify", notify_messages.MESSAGES_ZH, notify_app),
    "trust": ("services/trust/src/xinren_trust", trust_messages.MESSAGES_ZH, trust_app),
}
# How a code is given to an error: code="X" at a raise, `code = "X"` on an error class, error_response(4xx, "X", …).
CODE = re.compile(r'(?:\bcode\s*=\s*|\bcode\s*=\s*\d+,\s*|error_response\(\s*\d+,\s*|busy\(\s*)"([A-Z][A-Z0-9_]+)"')


def codes_in(folder: Path) -> set[str]:
    return {m.group(1) for path in folder.rglob("*.py") for m in CODE.finditer(path.read_text(encoding="utf-8"))}


def test_the_shared_codes_have_chinese_texts():
    shared = codes_in(ROOT / "shared/src/xinren_shared")
    assert shared, "no error codes found in shared/: the pattern no longer matches how codes are written"
    assert sorted(shared - set(SHARED_MESSAGES_ZH)) == []


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_code_of_the_service_has_a_chinese_text(service):
    folder, messages, _ = SERVICES[service]
    codes = codes_in(ROOT / folder)
    assert codes, f"no error codes found in {folder}"
    assert sorted(codes - set(messages) - set(SHARED_MESSAGES_ZH)) == []
    assert all(text.strip() and not text.isascii() for text in messages.values())


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_the_service_app_answers_errors_with_its_texts(service):
    _, messages, create_app = SERVICES[service]
    app = create_app()
    [localized] = [m for m in app.user_middleware if m.cls is LocalizedErrorsMiddleware]
    assert localized.kwargs["messages_zh"] == messages
