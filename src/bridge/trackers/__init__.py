"""Tracker adapters: one module per tracker, each turning deliveries into the core's events
and the core's actions into REST calls."""
