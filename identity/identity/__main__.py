import sys

from identity import create_app
from identity.settings import load_settings
from identity.worker import run
from services.runtime import run_service_cli

sys.exit(run_service_cli("identity", load_settings=load_settings, create_app=create_app, run_worker=run,
                         migrations="identity:migrations", default_port=8101))
