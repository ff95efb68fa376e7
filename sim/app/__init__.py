"""The browser faces: the model app (app.py), the sweep explorer (explorer.py), their server and offline
assets (server.py). Importing the package first quiets Mesa's and Solara's start-up warnings (quiet.py)."""

from sim.app import quiet

quiet.install()
