"""Discrepancy reports (INS-6): the holder reports what an employer declared wrongly; the agency answers."""
