"""The baseline: a bare Flask hello-world, served by gunicorn with the platform's settings.

Every path answers, so the load generator can hit the same URLs on both servers.
"""

from __future__ import annotations

from flask import Flask

application = Flask(__name__)


@application.route("/", defaults={"path": ""})
@application.route("/<path:path>")
def hello(path: str) -> str:
    return "Hello, World!"
