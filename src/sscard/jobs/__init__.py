"""Jobs: the channel of work nobody requests one call at a time (background loops, batch imports).

Like a route or a CLI command, a job owns its transactions: each step opens its unit of work and
commits it when the step ends; the domain code it calls only flushes (``sscard.db.early_commit``).
"""
