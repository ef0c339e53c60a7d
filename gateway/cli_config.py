"""``intake config check [DIR]`` and ``intake config init DIR``: a city's own config directory."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from config.loader import SHIPPED_CONFIG_DIR, load_city_config, shipped_files
from config.problems import ConfigError
from config.settings import load_settings


def cmd_config_check(args: argparse.Namespace) -> int:
    """Check a config directory (default: CONFIG_DIR); print a summary or every problem with its line."""
    settings = load_settings()
    directory = Path(args.directory) if args.directory else settings.config_dir
    try:
        config = load_city_config(directory, home_region=settings.region_code)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"config {directory}: {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"config OK: {config.summary()}")
    return 0


def cmd_config_init(args: argparse.Namespace) -> int:
    """Copy the shipped config files into a new directory for a city to edit."""
    target = Path(args.directory)
    files = shipped_files()
    existing = [name for name in files if (target / name).exists()]
    if existing:
        print(f"intake config init: {target / existing[0]} exists; nothing copied", file=sys.stderr)
        return 1
    for name in files:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHIPPED_CONFIG_DIR / name, target / name)
    print(f"intake config init: copied {len(files)} files to {target}; set CONFIG_DIR={target.resolve()}")
    return 0


def add_config_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``config check`` and ``config init`` on the ``intake`` parser."""
    parser = sub.add_parser("config", help="the city's config files", description="the city's config files")
    commands = parser.add_subparsers(dest="config_command", required=True)
    check = commands.add_parser(
        "check", help="check a config directory", description="check a config directory (default: CONFIG_DIR)"
    )
    check.add_argument("directory", nargs="?", help="config directory (default: CONFIG_DIR)")
    check.set_defaults(func=cmd_config_check)
    init = commands.add_parser(
        "init", help="copy the shipped config files to DIR", description="copy the shipped config files to DIR"
    )
    init.add_argument("directory")
    init.set_defaults(func=cmd_config_init)
