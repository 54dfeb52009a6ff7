"""Personal accounts and free queries (INS-5, INS-6): what the holder, the counter and the hotline read,
and the yearly interest credited into the pension and medical personal accounts."""
