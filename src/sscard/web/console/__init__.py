"""The security console pages (/console/): keys, incidents, audit (issue 21 item 4)."""
