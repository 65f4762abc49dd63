"""``python -m motionscope.cli``."""

from motionscope.cli import main

main()
