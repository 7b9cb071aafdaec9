"""Complaint triage for car dealerships: classify, route and follow Chinese complaints."""

__version__ = "0.1.0"
