"""Scans: many searches over a grid of config values, run anywhere, collected into one table.

``transit.scan.config`` (the scan YAML), ``.grid`` (points), ``.state`` (the scan directory),
``.executors`` (running the points) and ``.collect`` (the table, summary, plots, HTML index).
"""
