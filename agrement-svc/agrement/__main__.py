import sys

from agrement import create_app
from agrement.commands import bench_command, demo_extract_command, import_command
from agrement.settings import load_settings
from agrement.worker import run
from services.runtime import run_service_cli

sys.exit(run_service_cli("agrement", load_settings=load_settings, create_app=create_app, run_worker=run,
                         migrations="agrement:migrations", default_port=8102,
                         commands={"import": import_command, "demo-extract": demo_extract_command,
                                   "bench": bench_command}))
