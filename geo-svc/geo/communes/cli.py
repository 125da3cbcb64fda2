"""geo-svc's command line: `load-communes`."""
from __future__ import annotations

from geo.communes.commands import departements, load_reference


def load_reference_command(settings, _argv) -> int:
    """`python -m geo load-communes`."""
    from geo.bootstrap import bootstrap
    print(f"{load_reference(bootstrap(settings).session_factory, departements(settings))} communes ajoutées")
    return 0
