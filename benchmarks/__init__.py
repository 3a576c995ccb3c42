"""meterlocal's benchmarks: `python -m benchmarks [extract|e2e|memory|store|compare|all] [--quick]`.

Each suite measures one claim of the design against a floor or a peer, in one process where it can, and writes a
Markdown table (with the machine it ran on) to `benchmarks/results/<suite>.md`. See `benchmarks/__main__.py`.
"""
