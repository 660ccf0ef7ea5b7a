"""``rotabot serve``: answer Telegram commands, with no scheduled job."""

from __future__ import annotations

import argparse
import logging
import sys

from bot.config import Config
from bot.errors import UserError
from bot.notify.delivery import token_of
from bot.telegram.service import BotService

log = logging.getLogger(__name__)


def run_serve(args: argparse.Namespace, config: Config) -> int:
    token = token_of(config)
    if token is None:
        raise UserError(
            f"no Telegram token: set the environment variable {config.telegram.token_env} "
            "to the token BotFather gave you"
        )
    from bot.config.load import check_token
    from bot.telegram.app import build_application, serve

    check_token(token, config.telegram.token_env)  # before saying we serve anything
    chats = config.telegram.chat_ids
    if not chats:
        log.warning("telegram.chat_ids is empty: no chat will be served")
    print(f"rotabot: serving {len(chats)} chat(s); Ctrl-C to stop", file=sys.stderr)
    serve(build_application(config, token, BotService(config)), config.telegram.token_env)
    return 0
