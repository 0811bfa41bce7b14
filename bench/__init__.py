"""`make bench`: the plugin's own cost, measured against local servers (see `__main__`)."""
