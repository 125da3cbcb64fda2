"""agrement-svc's command line: `import` an extract, write a `demo-extract`, time an import (`bench`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agrement.bootstrap import bootstrap
from agrement.extract.commands import import_extract
from agrement.extract.domain.format import ExtractFormatError
from agrement.settings import Settings

EXIT_REJECTED_ROWS = 1
EXIT_UNREADABLE = 2


def _count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


def import_command(settings: Settings, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m agrement import",
                                     description="Importe un extrait d'agréments de la PMI (CSV, voir EXTRACT_FORMAT.md)")
    parser.add_argument("file", type=Path)
    parser.add_argument("--quiet", action="store_true", help="sans barre de progression")
    args = parser.parse_args(argv)
    if not args.file.is_file():
        print(f"Fichier introuvable : {args.file}", file=sys.stderr)
        return EXIT_UNREADABLE
    from tqdm import tqdm
    progress = tqdm(total=_count_rows(args.file), unit=" lignes", disable=args.quiet, desc="Import")
    container = bootstrap(settings)
    try:
        with args.file.open(encoding="utf-8-sig", newline="") as lines:
            report = import_extract(container.session_factory, lines, args.file.name,
                                    batch_size=settings.import_batch_size, on_row=progress.update)
    except ExtractFormatError as error:
        progress.close()
        print(f"Fichier refusé : {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    except UnicodeDecodeError:
        progress.close()
        print("Fichier refusé : il n'est pas encodé en UTF-8 (enregistrez-le en « CSV UTF-8 »).", file=sys.stderr)
        return EXIT_UNREADABLE
    progress.close()
    print(f"{report.rows_read} lignes lues : {report.granted} nouveaux agréments, {report.modified} modifiés, "
          f"{report.withdrawn} retirés ou suspendus, {report.unchanged} inchangés, "
          f"{len(report.rejections)} rejetées.")
    for rejection in report.rejections:
        who = f" (PMI {rejection.pmi_number})" if rejection.pmi_number else ""
        print(f"  ligne {rejection.line}{who} : {' ; '.join(rejection.reasons)}", file=sys.stderr)
    return EXIT_REJECTED_ROWS if report.rejections else 0


def demo_extract_command(_settings: Settings, argv: list[str]) -> int:
    from agrement.extract.domain.demo import generate_demo_extract
    parser = argparse.ArgumentParser(prog="python -m agrement demo-extract")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=28)
    parser.add_argument("--out", default="-")
    args = parser.parse_args(argv)
    text = generate_demo_extract(count=args.count, seed=args.seed)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


def bench_command(_settings: Settings, argv: list[str]) -> int:
    """Time an import of N demo rows into a fresh SQLite database, then the same file again (all unchanged)."""
    import tempfile
    import time

    from agrement.extract.domain.demo import generate_demo_extract
    from services.communes import load_communes
    from services.db import make_engine, make_session_factory, upgrade

    parser = argparse.ArgumentParser(prog="python -m agrement bench")
    parser.add_argument("rows", type=int, nargs="?", default=20_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite3"
        upgrade(url, "agrement:migrations")
        text = generate_demo_extract(count=args.rows, seed=1)
        load_communes()  # the reference loads once per process; keep it out of the timed part
        session_factory = make_session_factory(make_engine(url))
        for label in ("first import (all new)", "same file again (all unchanged)"):
            started = time.perf_counter()
            report = import_extract(session_factory, text.splitlines(keepends=True), "bench.csv")
            elapsed = time.perf_counter() - started
            print(f"import {label}: {report.rows_read} rows in {elapsed:.2f} s = {report.rows_read / elapsed:,.0f} "
                  f"rows/s ({report.applied} events written to the outbox)")
    return 0
