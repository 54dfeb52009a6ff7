"""The card PIN (PIN-1..PIN-11): state, verification, changes at terminals, counter operations."""
