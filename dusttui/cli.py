"""The command line: the TUI by default, and the headless commands beside it."""

from __future__ import annotations

import click

from dusttui import __version__


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="dusttui")
@click.pass_context
def main(ctx: click.Context) -> None:
    """dusttui — launch Dust app runs, watch every block live, explore every trace."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
