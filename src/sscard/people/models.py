"""people tables."""
