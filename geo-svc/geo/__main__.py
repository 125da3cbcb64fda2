import sys

from geo import create_app
from geo.settings import load_settings
from geo.worker import _departements, run
from services.runtime import run_service_cli


def _load_communes(settings, _argv) -> int:
    from geo.bootstrap import bootstrap
    from geo.reference import load_reference
    print(f"{load_reference(bootstrap(settings).session_factory, _departements(settings))} communes ajoutées")
    return 0


sys.exit(run_service_cli("geo", load_settings=load_settings, create_app=create_app, run_worker=run,
                         migrations="geo:migrations", default_port=8104,
                         commands={"load-communes": _load_communes}))
