"""The Together client and what the six model types share.

Importing the package sends the log records of every plugin module (loggers under `models` and
`provider`) to Dify through the SDK's handler, once, so no module attaches a handler of its own.
"""

import logging

from dify_plugin.config.logger_format import plugin_logger_handler

for _name in ("models", "provider"):
    logging.getLogger(_name).setLevel(logging.INFO)
    logging.getLogger(_name).addHandler(plugin_logger_handler)
