"""Employers (unified social credit code, GB 32100), their user accounts and sign-in (INS-1, QPW-5)."""
