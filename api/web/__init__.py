"""The web console: server-rendered pages (Jinja2, autoescaped) over the same domain
functions the JSON API calls, for customer care, handlers and managers."""

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """(being written)"""
