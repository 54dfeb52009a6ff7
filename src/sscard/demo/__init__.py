"""Demo data for development: regions, one staff login per role, persons and cards (``sscard demo load``)."""
