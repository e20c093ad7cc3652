"""Custom actions served by rasa-sdk (``rasa_sdk --actions actions``), one module per flow.

Actions stay thin: they read slots, call :mod:`bot.journal` (:mod:`~bot.journal.parsing`,
:mod:`~bot.journal.entries`, :mod:`~bot.journal.replies` …), and turn the results into replies
and slot events.
"""
