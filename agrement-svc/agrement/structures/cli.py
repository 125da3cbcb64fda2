"""`import-structures` (the structures extract, STRUCTURES_FORMAT.md) and `demo-structures` (demo data)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agrement.bootstrap import bootstrap
from agrement.extract.domain.format import ExtractFormatError
from agrement.settings import Settings
from agrement.structures.commands import import_structures

EXIT_REJECTED_ROWS = 1
EXIT_UNREADABLE = 2


def import_structures_command(settings: Settings, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m agrement import-structures",
                                     description="Importe l'extrait des structures (MAM et RPE), voir "
                                                 "STRUCTURES_FORMAT.md")
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    if not args.file.is_file():
        print(f"Fichier introuvable : {args.file}", file=sys.stderr)
        return EXIT_UNREADABLE
    container = bootstrap(settings)
    try:
        with args.file.open(encoding="utf-8-sig", newline="") as lines:
            report = import_structures(container.session_factory, lines, args.file.name)
    except ExtractFormatError as error:
        print(f"Fichier refusé : {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    except UnicodeDecodeError:
        print("Fichier refusé : il n'est pas encodé en UTF-8 (enregistrez-le en « CSV UTF-8 »).", file=sys.stderr)
        return EXIT_UNREADABLE
    finally:
        container.engine.dispose()
    print(f"{report.rows_read} lignes lues : {report.registered} nouvelles structures, {report.modified} modifiées, "
          f"{report.closed} fermées, {report.unchanged} inchangées, {len(report.rejections)} rejetées.")
    for rejection in report.rejections:
        print(f"  ligne {rejection.line} : {' ; '.join(rejection.reasons)}", file=sys.stderr)
    return EXIT_REJECTED_ROWS if report.rejections else 0


def demo_structures_command(_settings: Settings, argv: list[str]) -> int:
    from agrement.structures.domain.demo import generate_demo_structures_extract
    parser = argparse.ArgumentParser(prog="python -m agrement demo-structures")
    parser.add_argument("--count", type=int, default=300, help="le --count de demo-extract (mêmes MAM)")
    parser.add_argument("--seed", type=int, default=28)
    parser.add_argument("--out", default="-")
    args = parser.parse_args(argv)
    text = generate_demo_structures_extract(count=args.count, seed=args.seed)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0
