"""The BookSim2 binary the reference tools (sweep_booksim.py, seed_means.py) are given."""
import os
import sys


def binary_from_argv(doc, usage):
    """sys.argv[1], checked: `--help` prints `doc`; no argument or a path that is not an executable
    file is a usage error (exit 2). A wrong path made run_booksim.sh print rows of
    "nan,nan,unstable", which read as a curve past saturation."""
    prog = os.path.basename(sys.argv[0])
    if len(sys.argv) >= 2 and sys.argv[1] in ("-h", "--help"):
        print(doc)
        sys.exit(0)
    if len(sys.argv) < 2 or not (os.path.isfile(sys.argv[1]) and os.access(sys.argv[1], os.X_OK)):
        what = f"{sys.argv[1]}: not an executable BookSim2 binary; " if len(sys.argv) >= 2 else ""
        print(f"{prog}: {what}usage: {prog} {usage} (see --help)", file=sys.stderr)
        sys.exit(2)
    return sys.argv[1]
