"""Credentials of the cardholder: the card PIN and the online query password (PIN-*, QPW-*)."""
