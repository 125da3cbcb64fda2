from identity.adapters.orm import metadata
from services.migrations import run_env

run_env(metadata)
