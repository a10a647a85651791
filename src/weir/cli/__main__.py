"""`python -m weir.cli` runs the command line (the benchmarks use it)."""

from weir.cli.app import main

main()
