"""Medical settlement at designated institutions' terminals (FIN-1) and the institutions' daily files."""
