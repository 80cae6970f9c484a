"""The load tool's parts (``bench/load.py`` is the command): shapes and their node
code, the cluster and worker processes, the driver and its report, the floor,
scaling, plots. Worker processes import ``bench.loadkit.shapes``."""
