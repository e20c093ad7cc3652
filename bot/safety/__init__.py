"""Crisis safety: deterministic detection of suicide, self-harm, overdose, medical emergencies
and intent to harm others.

``bot.safety.detector`` holds the matcher, ``lexicon/`` the rules it applies (one file per category), and
``bot.safety.spacy_pipeline`` the tokenizer/lemmatizer shared with Rasa's ``SpacyNLP``.
Modules here may use only the standard library, PyYAML and spaCy, so that both the Rasa
server's environment and the application's can import them; ``wording_model`` (the detector's
second reader, trained on the phrasings in ``wordings/``) also needs scikit-learn and is
imported in the Rasa server's environment alone. This file imports nothing:
loading spaCy is left to the modules that need it.
"""
