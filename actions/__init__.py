"""Custom actions served by rasa-sdk (``rasa_sdk --actions actions``), one module per flow.

Actions stay thin: they read slots, call :mod:`bot.parsing`, :mod:`bot.journal` and
:mod:`bot.journal_text`, and turn the results into replies and slot events.
"""
