"""What a clinic runs: its registry of settings (``registry``: origins, crisis numbers, branding,
the widget configuration), its patients' personal links (``patients``), its therapists'
dashboard accounts (``therapists``), the audit log (``audit``), risk-flag notices (``notify``)
and how a patient reaches its care team (``care_team``).

Deliberately empty of imports: ``care_team`` is imported inside the Rasa server too, so
importing this package must pull in nothing else. Import the module you use, e.g.
``from bot.clinics import patients, registry``.
"""
