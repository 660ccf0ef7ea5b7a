"""One module per command group; each exposes ``run_<command>(args, config) -> int``."""
