"""``rotabot check-config``: print the effective configuration, secrets redacted."""

from __future__ import annotations

import argparse
import json
import os

from bot.config import Config, redacted_view


def run_check_config(args: argparse.Namespace, config: Config) -> int:
    """Print the configuration in effect as a TOML file that, fed back with ``--config``, gives
    the same configuration; what is secret or unset shows only as a comment."""
    view = redacted_view(config, os.environ)
    print(f"# configuration OK ({view.pop('source_file')})")
    for section, body in view.items():
        if section == "baskets" and isinstance(body, dict):
            for key, basket in body.items():
                _print_table(f"[baskets.{key}]", basket)
        elif section == "channels" and isinstance(body, list):
            for channel in body:
                _print_table("[[channels]]", channel)
        elif isinstance(body, dict):
            _print_table(f"[{section}]", body)
    return 0


SECRET_STATUS = ("token", "url")  # "set (redacted)" or "not set ($VAR)": comments, not keys


def _print_table(header: str, body: dict[str, object]) -> None:
    print(f"\n{header}")
    for key, value in body.items():
        if key in SECRET_STATUS:
            print(f"# {key}: {value}")
        elif value is None:
            print(f"# {key} is not set")
        else:
            print(f"{key} = {json.dumps(value, ensure_ascii=False)}")
