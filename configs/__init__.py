"""Training configurations: ``default.py`` and one file per paper setting (see README)."""
