"""Employer pages (/employer/): sign in, register employees, declare contributions (issue 21 item 3)."""
