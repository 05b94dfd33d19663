"""The fault suite (`make faults`, not part of `make test`) starts every service the e2e stack starts: a service
added to one and not the other would only show when someone runs the long scenarios."""

import re
from pathlib import Path

from tests.e2e.conftest import SERVICES
from tests.faults.stack import APPS

ROOT = Path(__file__).resolve().parents[2]


def test_the_fault_stack_starts_every_service_of_the_e2e_stack_with_its_app_factory():
    assert set(APPS) == set(SERVICES)
    procfile = (ROOT / "deploy" / "Procfile").read_text()
    for factory in APPS.values():
        assert re.search(rf"--factory {re.escape(factory)} ", procfile), factory
