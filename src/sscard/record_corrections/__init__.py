"""Record corrections at the counter (QPW-3, PER-1, CH-5): contact details with identity evidence, the
citizen ID with a supervisor's approval. Above people and credentials: a corrected ID re-derives the
query password and the initial PIN that follow it."""
