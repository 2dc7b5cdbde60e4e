"""``python -m hens`` — same as the ``hens`` console script (used by torchrun -m hens)."""

from hens.cli import main

main()
