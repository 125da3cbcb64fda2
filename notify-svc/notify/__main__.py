import sys

from notify import create_app
from notify.settings import load_settings
from notify.worker import run
from services.runtime import run_service_cli

sys.exit(run_service_cli("notify", load_settings=load_settings, create_app=create_app, run_worker=run,
                         migrations="notify:migrations", default_port=8105))
