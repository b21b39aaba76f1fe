"""`dusttui pull`: take a workspace's apps offline, as files `dusttui serve --apps DIR` runs.

For each app: ``NAME.dust`` from its saved specification (the builder's block list written as
front's ``dumpSpecification`` writes it, :mod:`dusttui.builderspec`), ``NAME.config.json`` from
its saved config, ``NAME.description.txt``, and ``NAME.inputs.jsonl`` when the backend ships
sample inputs (the local engine). The report gives each app's specification hash — the one the
workspace runs for its saved version.

Everything is checked before anything is written: an unknown app name, an app without a saved
specification (when named), a name that is not a file name, two apps with one name, a file that
exists already (unless ``--force``) — each is reported and nothing is written (exit 2).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import click

from dusttui.api.models import App
from dusttui.builderspec import dump_specification
from dusttui.config import Backend, Settings
from dusttui.exitcodes import EXIT_OK, EXIT_USAGE
from dusttui.output import emit_json, err
from dusttui.session import open_client
from dusttui.specs import dust_text_hash, engine_extension

# Characters no file name may hold on some system we run on (and control characters).
_BAD_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_MAX_NAME_BYTES = 200  # leaves room for ".description.txt" under the usual 255


@dataclass
class Planned:
    """One app to write: its files (path → text), hash and anything worth a warning."""

    app: App
    files: dict[Path, str]
    spec_hash: str | None  # None: the local parser cannot read it (the text is written anyway)
    warnings: list[str] = field(default_factory=list)


def name_problem(name: str) -> str | None:
    """Why an app name cannot be a file name, or None."""
    if not name or name.strip() != name:
        return f"the app name `{name}` is empty or starts or ends with spaces"
    if name in (".", "..") or name.startswith("."):
        return f"the app name `{name}` would be a hidden file"
    if _BAD_NAME.search(name):
        return f"the app name {json.dumps(name)} holds a character a file name cannot"
    if len(name.encode()) > _MAX_NAME_BYTES:
        return f"the app name `{name[:40]}…` is too long for a file name"
    return None


def select(apps: list[App], wanted: tuple[str, ...]) -> tuple[list[App], list[str]]:
    """The apps named (by sId, then name, then name in any case); the names that match none."""
    if not wanted:
        return list(apps), []
    chosen: list[App] = []
    unknown: list[str] = []
    for name in wanted:
        found = (
            [a for a in apps if a.sId == name]
            or [a for a in apps if a.name == name]
            or [a for a in apps if a.name.lower() == name.lower()]
        )
        if not found:
            unknown.append(name)
        chosen.extend(a for a in found if a not in chosen)
    return chosen, unknown


def plan_app(app: App, to: Path) -> Planned:
    """The files of one app; ValueError with a sentence when it cannot be pulled."""
    problem = name_problem(app.name)
    if problem:
        raise ValueError(f"{problem}: rename it in Dust, or pull the others")
    if not app.savedSpecification:
        raise ValueError(
            f"app `{app.name}` has no saved specification (never saved in the builder)"
        )
    try:
        blocks = json.loads(app.savedSpecification)
        dumped = dump_specification(blocks)
    except ValueError as exc:  # JSON errors and BuilderSpecError alike
        raise ValueError(
            f"app `{app.name}`: its saved specification cannot be read: {exc}"
        ) from None
    files = {to / f"{app.name}.dust": dumped.text}
    warnings: list[str] = []
    spec_hash: str | None = None
    try:
        spec_hash = dust_text_hash(dumped.text)
    except ValueError as exc:  # written all the same: it is the workspace's own text
        warnings.append(f"app `{app.name}`: no hash here: {exc}")
    warnings += [
        f"app `{app.name}`: data block dataset `{d}` is written `hash: latest` (the API does not "
        f"give dataset versions): its hash differs from the workspace's; put the records in "
        f"{to / 'datasets' / (d + '.jsonl')}"
        for d in dumped.unknown_datasets
    ]
    if app.savedConfig:
        try:
            config = json.loads(app.savedConfig)
        except ValueError:
            raise ValueError(f"app `{app.name}`: its saved config is not JSON") from None
        files[to / f"{app.name}.config.json"] = json.dumps(config, indent=2) + "\n"
    if app.description:
        files[to / f"{app.name}.description.txt"] = app.description.rstrip("\n") + "\n"
    ext = engine_extension(app)
    sample = ext.get("sampleInputs")
    if isinstance(sample, list) and sample:
        lines = (json.dumps(x, ensure_ascii=False) for x in sample)
        files[to / f"{app.name}.inputs.jsonl"] = "".join(line + "\n" for line in lines)
    known = ext.get("specificationHash")
    if isinstance(known, str) and known and spec_hash and known != spec_hash:
        warnings.append(
            f"app `{app.name}`: the server runs hash {known}, the file hashes to {spec_hash}"
        )
    return Planned(app, files, spec_hash, warnings)


def plan(
    apps: list[App], wanted: tuple[str, ...], to: Path, force: bool
) -> tuple[list[Planned], list[str], list[str]]:
    """(what to write, problems that stop everything, notes) for a pull."""
    problems: list[str] = []
    notes: list[str] = []
    chosen, unknown = select(apps, wanted)
    if unknown:
        names = ", ".join(sorted(a.name for a in apps)) or "none"
        problems.extend(f"no app named `{n}` (apps: {names})" for n in unknown)
    if to.exists() and not to.is_dir():
        problems.append(f"{to} exists and is not a folder")
    planned: list[Planned] = []
    by_name: dict[str, App] = {}
    for app in chosen:
        if not wanted and not app.savedSpecification:
            notes.append(f"skipped `{app.name}`: no saved specification")
            continue
        other = by_name.get(app.name.lower())
        if other is not None:
            problems.append(
                f"two apps are named `{app.name}` ({other.sId}, {app.sId}): pull them one at a "
                "time by sId into different folders"
            )
            continue
        by_name[app.name.lower()] = app
        try:
            planned.append(plan_app(app, to))
        except ValueError as exc:
            problems.append(str(exc))
    if not force:
        for p in planned:
            problems.extend(
                f"{path} exists (--force overwrites it)" for path in p.files if path.exists()
            )
    return planned, problems, notes


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file, so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_pull(
    settings: Settings,
    backend: Backend,
    *,
    apps: tuple[str, ...],
    to: Path,
    force: bool,
    as_json: bool,
) -> int:
    """`dusttui pull [APP…] --to DIR`: write the apps' files, report their hashes."""

    async def listing() -> list[App]:
        async with open_client(backend, settings) as client:
            return await client.list_apps()

    planned, problems, notes = plan(asyncio.run(listing()), apps, to, force)
    for note in notes:
        err(note)
    if problems:
        for problem in problems:
            err(problem)
        err("Nothing was written.")
        return EXIT_USAGE
    to.mkdir(parents=True, exist_ok=True)
    for p in planned:
        for path, text in p.files.items():
            write_atomically(path, text)
        for warning in p.warnings:
            err(warning)
    report(planned, to, as_json)
    return EXIT_OK


def report(planned: list[Planned], to: Path, as_json: bool) -> None:
    """One line per app on stdout (or one JSON document)."""
    if as_json:
        emit_json(
            {
                "to": str(to),
                "apps": [
                    {
                        "name": p.app.name,
                        "sId": p.app.sId,
                        "specification_hash": p.spec_hash,
                        "files": [str(path) for path in p.files],
                        "warnings": p.warnings,
                    }
                    for p in planned
                ],
            }
        )
        return
    if not planned:
        click.echo("No apps to pull.")
        return
    from dusttui.output import plural
    from dusttui.textsafe import safe_line

    width = max(len(safe_line(p.app.name)) for p in planned)
    for p in planned:
        shown = p.spec_hash or "(no hash: see above)".ljust(64)
        name = safe_line(p.app.name)
        click.echo(f"{name.ljust(width)}  {shown}  {plural(len(p.files), 'file')}")
    where = safe_line(str(to))
    click.echo(f"Pulled {plural(len(planned), 'app')} into {where}: dusttui serve --apps {where}")
