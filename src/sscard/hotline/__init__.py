"""The 12345 hotline's voice query (seed 004, INS-5): no password, only non-sensitive facts."""
