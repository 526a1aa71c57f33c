"""``python -m benchmarks``: run the benchmarks and print the table."""

from .run import main

raise SystemExit(main())
