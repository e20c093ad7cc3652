"""``python -m bot …``: command-line tools for operators and for patients' data requests.

:mod:`.main` parses the command line and holds ``run``, ``export`` and ``db``; each other
command group has a module of its own (:mod:`.clinics`, :mod:`.staff`, :mod:`.keys`,
:mod:`.notify`, :mod:`.purge`), and what they share is in :mod:`.common`.
"""
