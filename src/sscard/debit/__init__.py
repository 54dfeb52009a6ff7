"""The RMB debit account of a financial card (FIN-2, FIN-3)."""
