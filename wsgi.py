"""Gunicorn entry point: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`."""

from kosprice.app import create_app

app = create_app()
