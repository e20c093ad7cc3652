"""The spaCy pipeline shared by the crisis detector and Rasa's ``SpacyNLP``.

A blank English tokenizer plus a lookup lemmatizer whose tables come from the installed
``spacy-lookups-data`` package: no statistical model (none can be installed here), no
download, the same result on every machine. ``bot.nlu.spacy_model`` saves it to the folder
that config.yml's ``SpacyNLP`` loads (``var/spacy/en_lookup``); the detector builds it in
memory. Both therefore see the same tokens and lemmas.
"""

from __future__ import annotations

import spacy
from spacy.language import Language

PIPELINE_NAME = "en_lookup"
PIPELINE_VERSION = "1.0.0"


def build_pipeline() -> Language:
    """A blank English pipeline with a lookup lemmatizer, initialised offline."""
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    nlp.meta["name"] = PIPELINE_NAME
    nlp.meta["version"] = PIPELINE_VERSION
    nlp.meta["description"] = (
        "Tokenizer and lookup lemmatizer (spacy-lookups-data) for the integration companion; "
        "no statistical components."
    )
    return nlp
