import sys

from gateway import create_app
from gateway.settings import load_settings
from services.runtime import run_service_cli

sys.exit(run_service_cli("gateway", load_settings=load_settings, create_app=create_app, run_worker=None,
                         migrations=None, default_port=8000))
