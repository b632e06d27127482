import sys

from labhosts.cli import main

sys.exit(main())
