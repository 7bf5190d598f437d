"""WSGI entry for production servers: ``gunicorn 'engine.wsgi:application'``.

Each worker process builds its platform (and its config watcher) from the environment.
"""

from engine.platform import create_platform

application = create_platform()
