"""Legato: an event-sourced workflow runtime, embedded by default, distributed over
Kafka, Cassandra and Redis when configured."""

__version__ = "0.1.0"
