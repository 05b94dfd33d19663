"""Field types the services' requests share."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_8601_only(value: Any) -> Any:
    # Pydantic also reads numbers (and numeric strings) as Unix times; the API speaks ISO 8601 only, so "0.5" or
    # 1700000000 is a bad request rather than a moment in 1970 or 2023.
    if isinstance(value, str) and not _ISO_DATE.match(value.strip()):
        raise ValueError("an ISO 8601 date and time with a time zone, e.g. 2026-11-30T08:00:00Z")
    if isinstance(value, int | float):
        raise ValueError("an ISO 8601 date and time with a time zone, e.g. 2026-11-30T08:00:00Z")
    return value


# An ISO 8601 date and time with its time zone (`2026-11-30T08:00:00Z`, `2026-11-30T16:00:00+08:00`).
IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_8601_only)]
