import socket
import sys
from urllib.parse import urlsplit

import yaml
from dify_plugin import DifyPluginEnv, Plugin
from dify_plugin.config.config import InstallMethod
from dify_plugin.core.entities.message import InitializeMessage

from models.together.tokens import warm_up_in_background

# Dify's daemon answers an unknown debug key at once and stays silent on a good one (it then waits
# for the plugin's declarations), so silence for this long means the key was accepted.
HANDSHAKE_REPLY_WAIT = 2.0
# Where Dify shows the debugging URL and key: the bug icon on its Plugins page opens "Debugging".
DEBUGGING_PAGE = "Plugins → Debugging (the bug icon)"


def debugging_address(config: DifyPluginEnv) -> tuple[str, int]:
    """Dify's debugging host and port, from the settings `DifyPluginEnv` declares.

    REMOTE_INSTALL_URL, when set, is `host:port` as Dify shows it (a scheme in front is allowed);
    otherwise REMOTE_INSTALL_HOST and REMOTE_INSTALL_PORT. Raises ValueError with one line naming the
    setting when REMOTE_INSTALL_URL names no host and port.
    """
    url = config.REMOTE_INSTALL_URL
    if url is None:
        return config.REMOTE_INSTALL_HOST, config.REMOTE_INSTALL_PORT
    parts = urlsplit(url if "://" in url else f"//{url}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or parts.path not in ("", "/"):
        raise ValueError(
            f"REMOTE_INSTALL_URL={url!r} in .env is not <host>:<port>: copy the URL from {DEBUGGING_PAGE}"
        )
    return parts.hostname, port


def remote_debugging_problem(config: DifyPluginEnv) -> str | None:
    """Why Dify's debugging port will not take this plugin, in one line that never contains the key;
    None when the port took the key without a word, as the daemon does.

    Checked before the SDK connects: it would print a traceback per retry for an unreachable host,
    and keep reconnecting with a key the daemon refuses.
    """
    key = config.REMOTE_INSTALL_KEY
    if not key:
        return f"REMOTE_INSTALL_KEY is not set in .env: copy the Key from {DEBUGGING_PAGE} in Dify"
    try:
        host, port = debugging_address(config)
    except ValueError as error:
        return str(error)
    handshake = InitializeMessage(
        type=InitializeMessage.Type.HANDSHAKE, data=InitializeMessage.Key(key=key).model_dump()
    )
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
    # A server may echo the request, key included, in what it answers.
    # Redacted before it is shortened, so that no cut-off piece of the key survives either.
    answer = reply.decode("utf-8", "replace").replace(key, "<REMOTE_INSTALL_KEY>")
    words = answer.strip().split("\n", 1)[0].strip()[:200] or "it closed the connection without a word"
    if reply.lstrip().lower().startswith((b"http/", b"<!doctype", b"<html")):
        return (
            f"{host}:{port} is a web server ({words}), not Dify's plugin debugging port (a Dify web or API"
            f" port?): set REMOTE_INSTALL_URL in .env to the URL under {DEBUGGING_PAGE}"
        )
    if "invalid key" in words:
        return (
            f"Dify at {host}:{port} refused the debug key ({words}): check REMOTE_INSTALL_KEY in .env against"
            f" {DEBUGGING_PAGE} in that Dify (keys expire; copy the current one)"
        )
    return (
        f"{host}:{port} did not take the plugin ({words}): check that REMOTE_INSTALL_URL in .env is the URL"
        f" under {DEBUGGING_PAGE}; if it is, the plugin daemon's log says why"
    )


def connected_line(host: str, port: int) -> str:
    """What to check when the debugging port took the key but the plugin does not show up in Dify."""
    return (
        f"Connected to Dify's plugin debugging port at {host}:{port}. If Together AI does not appear under"
        " Plugins in Dify within a minute, check that REMOTE_INSTALL_URL in .env is the URL under"
        f" {DEBUGGING_PAGE} and that the plugin daemon exposes that port (EXPOSE_PLUGIN_DEBUGGING_PORT)"
    )


# The SDK reads the manifest and every model YAML with PyYAML's pure-Python safe loader, most of
# the time to the first heartbeat; libyaml's safe loader (bundled with PyYAML) builds the same
# data several times faster.
if yaml.__with_libyaml__:
    yaml.safe_load = lambda stream: yaml.load(stream, Loader=yaml.CSafeLoader)

# Reasoning models can think for minutes; the request lifetime must outlast the client's read timeout.
config = DifyPluginEnv(MAX_REQUEST_TIMEOUT=900)

if __name__ == "__main__":
    remote = config.INSTALL_METHOD == InstallMethod.Remote
    if remote:
        if problem := remote_debugging_problem(config):
            sys.exit(problem)
        host, port = debugging_address(config)
        # The SDK then connects exactly where the check did, through the settings it declares.
        config = config.model_copy(
            update={"REMOTE_INSTALL_URL": None, "REMOTE_INSTALL_HOST": host, "REMOTE_INSTALL_PORT": port}
        )
    plugin = Plugin(config)
    warm_up_in_background()
    if remote:
        print(connected_line(host, port), file=sys.stderr, flush=True)
    plugin.run()
