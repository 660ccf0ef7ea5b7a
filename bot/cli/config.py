"""``rotabot check-config``: print the effective configuration, secrets redacted."""

from __future__ import annotations

import argparse
import json
import os

from bot.config import Config, redacted_view


def run_check_config(args: argparse.Namespace, config: Config) -> int:
    view = redacted_view(config, os.environ)
    print(f"# configuration OK ({view.pop('source_file')})")
    for section, body in view.items():
        if section == "baskets" and isinstance(body, dict):
            for key, basket in body.items():
                _print_table(f"baskets.{key}", basket)
        elif isinstance(body, dict):
            _print_table(section, body)
    return 0


def _print_table(name: str, body: dict[str, object]) -> None:
    print(f"\n[{name}]")
    for key, value in body.items():
        print(f"{key} = {json.dumps(value, ensure_ascii=False)}")
