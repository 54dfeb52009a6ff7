"""The online query password (QPW-1..QPW-8): initial password by rule, login, change, forgot, counter reset."""
