"""cards tables."""
