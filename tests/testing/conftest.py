pytest_plugins = ["legato.testing.plugin"]
