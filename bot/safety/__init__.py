"""Crisis safety: deterministic detection of suicide, self-harm, overdose, medical emergencies
and intent to harm others.

``bot.safety.detector`` holds the matcher, ``lexicon/`` the rules it applies (one file per category), and
``bot.safety.spacy_pipeline`` the tokenizer/lemmatizer shared with Rasa's ``SpacyNLP``.
Modules here may use only the standard library, PyYAML and spaCy, so that both the Rasa
server's environment and the application's can import them. This file imports nothing:
loading spaCy is left to the modules that need it.
"""
