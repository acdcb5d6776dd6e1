"""CLI subcommands. Each module defines ``register(subparsers) -> None``, which adds one or
more subparsers whose ``func`` attribute is ``(args, out: Output) -> int`` (the exit code).

``cli.py`` imports the modules listed in ``COMMAND_MODULES``; a module that is missing is
skipped, so a command can land independently of the others.
"""

COMMAND_MODULES: tuple[str, ...] = (
    "resolve",  # resolve, check
    "files",  # pin, migrate
    "versions",  # versions
    "catalog",  # catalog show / refresh / reset
    "install",  # install (provisioning)
    "cache",  # cache clear / cache info (build cache, download cache)
)
