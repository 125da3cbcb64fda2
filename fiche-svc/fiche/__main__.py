import argparse
import sys

from fiche import create_app
from fiche.settings import load_settings
from fiche.worker import run
from services.runtime import run_service_cli


def _bench(_settings, argv) -> int:
    from fiche.bench import run as run_bench
    parser = argparse.ArgumentParser(prog="python -m fiche bench", description="time the fiche search on SQLite")
    parser.add_argument("size", type=int, nargs="?", default=100_000, help="number of synthetic fiches")
    run_bench(parser.parse_args(argv).size)
    return 0


sys.exit(run_service_cli("fiche", load_settings=load_settings, create_app=create_app, run_worker=run,
                         migrations="fiche:migrations", default_port=8103, commands={"bench": _bench}))
