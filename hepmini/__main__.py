"""Entry point for `python -m hepmini`."""

from hepmini.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
