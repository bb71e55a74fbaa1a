"""Benchmarks of ticket-bridge: `python -m bench` (see bench/README.md)."""
