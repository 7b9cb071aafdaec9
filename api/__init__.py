"""The HTTP service (FastAPI). Its routes arrive with the case service (issue 4)."""
