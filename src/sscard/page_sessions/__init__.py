"""Server-side sessions of the web pages (portal, counter, employer, console): one per browser and channel."""
