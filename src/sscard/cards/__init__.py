"""cards domain."""
