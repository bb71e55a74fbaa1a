"""ticket-bridge: enforces a support team's service process beside its tracker."""

__version__ = "0.1.0"
