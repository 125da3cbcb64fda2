"""`python -m geo load-addresses [FILE]`: load a BAN CSV extract (default: the small demo sample of
département 28 shipped in the repository)."""
from __future__ import annotations

from pathlib import Path

from geo.addresses.commands import SAMPLE, InvalidExtract, load_addresses, read_extract


def load_addresses_command(settings, argv) -> int:
    from geo.bootstrap import bootstrap
    path = Path(argv[0]) if argv else SAMPLE
    if not path.is_file():
        print(f"fichier introuvable : {path}")
        return 2
    try:
        count = load_addresses(bootstrap(settings).session_factory, read_extract(path))
    except InvalidExtract as error:
        print(error)
        return 2
    print(f"{count} adresses chargées depuis {path.name}")
    return 0
