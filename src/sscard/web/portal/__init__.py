"""The cardholder portal's pages (``/portal/``) over the portal API's services."""
