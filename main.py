from dify_plugin import DifyPluginEnv, Plugin

from models.together.tokens import warm_up_in_background

# Reasoning models can think for minutes; the request lifetime must outlast the client's read timeout.
plugin = Plugin(DifyPluginEnv(MAX_REQUEST_TIMEOUT=900))

if __name__ == "__main__":
    warm_up_in_background()
    plugin.run()
