import sys

from fiche.service import MANIFEST
from services.runtime import run_manifest_cli

sys.exit(run_manifest_cli(MANIFEST))
