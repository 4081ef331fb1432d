import sys

from taskdsl.cli import main

sys.exit(main())
