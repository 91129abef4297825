import sys

from jaxlic.cli import command

sys.exit(command())
