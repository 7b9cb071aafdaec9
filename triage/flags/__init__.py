"""Flag cues: context-aware patterns for media, legal, government, safety, extreme and repeat."""
