"""Command-line options that several commands share, declared once (each layer's cli.py adds its own)."""


def add_set(parser) -> None:
    """--set KEY=VALUE, the override every command takes."""
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting (repeatable), e.g. --set classifier=hgb")


def add_workflow(parser) -> None:
    """--workdir, --data-dir and --set: where the analysis runs and on which data."""
    parser.add_argument("--workdir", help="where data, outputs and logs go (default ./work)")
    parser.add_argument("--data-dir", help="directory holding GamGam/Data and GamGam/MC "
                        "(default: synthesize into WORKDIR/data)")
    add_set(parser)


def add_dag(parser) -> None:
    """-j, --dry-run and --force of the DAG runner."""
    parser.add_argument("-j", "--jobs", type=int, help="run up to N independent steps at once")
    parser.add_argument("-n", "--dry-run", action="store_true", help="say what would run, run nothing")
    parser.add_argument("-f", "--force", action="store_true", help="run the steps even if up to date")
