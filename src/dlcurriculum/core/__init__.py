"""The small shared toolkit: no chapter logic lives here."""
