"""Registered terminals (CH-3): the registry, its services and the authentication of every request.

The wire protocol itself (canonical request, CMAC, PIN blocks) lives in the SDK, ``sscard.terminal``,
so the server verifies exactly what terminals sign.
"""
