import sys

from jaxlic.cli import main

sys.exit(main())
