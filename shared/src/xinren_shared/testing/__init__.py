"""Test harness: real Kafka and PostgreSQL for the suite, and helpers to drive services and await events."""
