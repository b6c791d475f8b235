"""Pydantic models of every input and answer: one definition gives validation, serialization
and the OpenAPI document. Imports only ``pathway.timeline`` (and pydantic, phonenumbers)."""
