"""What the Rasa server runs around the trained model: the patient channels (socket.io and
REST with token identity), the message gate and rate limits, turn slots, the tracker and lock
stores, the validation of the action server's replies, and the response generator that fills
in the clinic's numbers.

Modules here are loaded only inside the Rasa server's environment (Python 3.10, rasa 3.6,
SQLAlchemy 1.4); the application's environment never imports them. Unlike ``bot.nlu`` they
are not parts of the model, so changing them never calls for training. This file stays free
of imports so that importing one plugin does not pull in the others.
"""
