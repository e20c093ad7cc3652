"""Psychoeducation content kept as data, so clinicians can review every fact and its source.

The answers themselves live in data/psychoeducation.yml (Rasa's ResponseSelector serves them);
sources.yml beside this file lists each study those answers cite, with the full reference and
the only figures an answer may quote from it. Keeping both as plain YAML lets the content tests
check every citation and every number without importing Rasa.
"""
