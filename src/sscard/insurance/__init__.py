"""Social insurance records: registration and participation (INS-1/2), declarations (INS-3/7)."""
