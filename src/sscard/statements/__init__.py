"""Yearly personal-account statements (INS-4): data, PDF, verification code, batch generation, delivery."""
