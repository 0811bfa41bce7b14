import socket
import sys

import yaml
from dify_plugin import DifyPluginEnv, Plugin
from dify_plugin.config.config import InstallMethod
from dify_plugin.core.entities.message import InitializeMessage

from models.together.tokens import warm_up_in_background

# Dify's daemon answers an unknown debug key at once and stays silent on a good one (it then waits
# for the plugin's declarations), so silence for this long means the key was accepted.
HANDSHAKE_REPLY_WAIT = 2.0


def remote_debugging_problem(config: DifyPluginEnv) -> str | None:
    """Why Dify's debugging port will not take this plugin, in one line; None when it will.

    Checked before the SDK connects: it would print a traceback per retry for an unreachable host,
    and keep reconnecting with a key the daemon refuses.
    """
    if not config.REMOTE_INSTALL_KEY:
        return "REMOTE_INSTALL_KEY is not set in .env: copy the key from Dify's Plugins → Develop → Debug"
    try:
        host, port = Plugin._get_remote_install_host_and_port(config)  # the SDK's own reading of .env
    except ValueError:
        return f"REMOTE_INSTALL_URL={config.REMOTE_INSTALL_URL!r} in .env is not <host>:<port>"
    key = InitializeMessage.Key(key=config.REMOTE_INSTALL_KEY).model_dump()
    handshake = InitializeMessage(type=InitializeMessage.Type.HANDSHAKE, data=key)
    try:
        with socket.create_connection((host, port), timeout=10) as connection:
            connection.sendall(handshake.model_dump_json().encode() + b"\n")
            connection.settimeout(HANDSHAKE_REPLY_WAIT)
            try:
                reply = connection.recv(4096)
            except TimeoutError:
                return None
    except (OSError, OverflowError) as error:
        return (
            f"Cannot reach Dify's plugin debugging port at {host}:{port} ({error}): check REMOTE_INSTALL_URL"
            " in .env and that the Dify plugin daemon there is running and exposes that port"
        )
    words = reply.decode("utf-8", "replace").strip() or "it closed the connection"
    return (
        f"Dify at {host}:{port} refused the debug key ({words}): check REMOTE_INSTALL_KEY in .env against"
        " Plugins → Develop → Debug in that Dify (keys expire; copy the current one)"
    )


# The SDK reads the manifest and every model YAML with PyYAML's pure-Python safe loader, most of
# the time to the first heartbeat; libyaml's safe loader (bundled with PyYAML) builds the same
# data several times faster.
if yaml.__with_libyaml__:
    yaml.safe_load = lambda stream: yaml.load(stream, Loader=yaml.CSafeLoader)

# Reasoning models can think for minutes; the request lifetime must outlast the client's read timeout.
config = DifyPluginEnv(MAX_REQUEST_TIMEOUT=900)

if __name__ == "__main__":
    if config.INSTALL_METHOD == InstallMethod.Remote and (problem := remote_debugging_problem(config)):
        sys.exit(problem)
    plugin = Plugin(config)
    warm_up_in_background()
    plugin.run()
