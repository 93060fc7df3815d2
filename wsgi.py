"""WSGI entry point: `gunicorn -c deploy/gunicorn.conf.py wsgi:app` (or any WSGI server)."""

from kosprice import logging
from kosprice.app import create_app
from kosprice.settings import Settings

settings = Settings.from_env()
logging.configure(settings.log_level, settings.log_dir)
app = create_app(settings)
