"""Text in: normalisation with offsets back to the original, masking, tokenisation."""
