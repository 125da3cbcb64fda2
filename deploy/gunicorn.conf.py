"""gunicorn settings shared by every image (the command line keeps bind, workers and threads).

`python -m <package> web` configures the JSON logs itself; under gunicorn nothing would, and the services' INFO lines
(request logs with correlation ids) would be lost. The master configures them once, from the service's own settings,
before it forks the workers, which inherit them.
"""
import importlib

from services import logs


def on_starting(server):
    package = server.app.app_uri.split(":")[0].split(".")[0]  # "geo:create_app()" -> "geo"
    settings = importlib.import_module(f"{package}.settings").load_settings()
    logs.configure(package, settings.log_level, settings.log_format)
