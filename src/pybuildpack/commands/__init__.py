"""CLI subcommands. Each module defines ``register(subparsers) -> None``, which adds one or
more subparsers whose ``func`` attribute is ``(args, out: Output) -> int`` (the exit code).

``cli.py`` imports the modules listed in ``COMMAND_MODULES``; a module that is missing is
skipped, so a command can land independently of the others. ``COMMANDS`` says which module
registers each top-level command, so that ``pybuildpack resolve`` imports (and builds the
parser of) that module alone: start-up time is paid per command, not for every command.
"""

COMMAND_MODULES: tuple[str, ...] = (
    "resolve",  # resolve, check
    "files",  # pin, migrate
    "versions",  # versions
    "catalog",  # catalog show / refresh / reset
    "install",  # install (provisioning)
    "cache",  # cache clear / cache info (build cache, download cache)
)

# top-level command -> the module (in COMMAND_MODULES) that registers it
COMMANDS: dict[str, str] = {
    "resolve": "resolve",
    "check": "resolve",
    "pin": "files",
    "migrate": "files",
    "versions": "versions",
    "catalog": "catalog",
    "install": "install",
    "cache": "cache",
}
