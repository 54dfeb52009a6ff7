"""Regional policy as data (POL): versioned, audited, inherited from the broader region, selected by card type."""
