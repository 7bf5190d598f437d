"""Daraport command line: `python cli.py --help`."""

from engine.cli import main

if __name__ == "__main__":
    main()
