"""The web app: the patients' chat widget, the demo clinic page and the JSON API."""
