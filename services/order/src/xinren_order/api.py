"""HTTP routes of the order service: parse, authorize, call a handler, shape the response."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1")
