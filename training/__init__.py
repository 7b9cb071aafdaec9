"""Building the labelled set and training the triage models."""
