"""The browser face: the Solara app (app.py) and its server and offline assets (server.py)."""
