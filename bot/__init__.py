"""Integration companion: the application package shared by the action server, the CLI and the web app.

Importing ``bot`` must stay cheap and free of third-party imports, because the Rasa
environment (Python 3.10, SQLAlchemy 1.4) imports ``bot.nlu`` and ``bot.settings`` too.
"""
