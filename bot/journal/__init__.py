"""The journal: what a person writes with the companion, and how the bot reads and answers it.

``schema.py`` declares each kind of entry once (its fields in the order asked, their labels,
which are ratings, which slot answers each); ``drafts.py`` builds an entry from a form's
answers by it; ``entries.py`` keeps entries and risk flags in the database; ``replies.py`` and
``safety_plan.py`` are what the bot says about them. ``parsing.py``, ``reply_reading.py``,
``acknowledgements.py`` and ``lapse_details.py`` read what people type; with ``schema.py`` they
are the kernel (standard library, PyYAML and spaCy only), which Rasa's side imports too.

This file imports nothing, so that importing the kernel's modules never loads the database.
"""
