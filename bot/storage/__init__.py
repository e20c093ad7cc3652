"""Persistence for the journal, patients, clinics and risk flags.

Kept free of imports on purpose: the Rasa environment (SQLAlchemy 1.4) imports ``bot.*``
modules, and only ``bot.storage.models`` / ``bot.storage.db`` need SQLAlchemy 2.
"""
