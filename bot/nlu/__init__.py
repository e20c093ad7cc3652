"""The custom parts of the trained model that config.yml names: the intent guards, the crisis
detector and the crisis policy, and the builder of the spaCy model the pipeline loads.

Changing one of them calls for training (``MODEL_COMPONENTS`` in the Makefile); what the Rasa
server runs around the model lives in ``bot.chat``. Modules here are loaded only inside the
Rasa server's environment (Python 3.10, rasa 3.6); the application's environment never imports
them. This file stays free of imports so that importing one component does not pull in the
others.
"""
