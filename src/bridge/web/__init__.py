"""The HTTP edge: webhook intake and the operations API."""
