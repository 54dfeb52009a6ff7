"""staff tables."""
