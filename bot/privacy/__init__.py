"""A patient's rights over their data: erasure (and the erasure requests of clinics that keep
records), the patient's own copy of their data through a short-lived link, and retention
(conversations deleted once past a clinic's period)."""
