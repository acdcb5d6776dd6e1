"""A tiny Flask app: the example pybuildpack builds end to end."""

import platform

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> dict[str, str]:
    return {"message": "Hello from pybuildpack", "python": platform.python_version()}
