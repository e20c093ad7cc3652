"""Custom Rasa components and plugins (crisis detector, tracker store, spaCy model builder).

Modules here are loaded only inside the Rasa server's environment (Python 3.10, rasa 3.6,
SQLAlchemy 1.4); the application's environment never imports them. This file stays free of
imports so that importing one plugin does not pull in the others.
"""
