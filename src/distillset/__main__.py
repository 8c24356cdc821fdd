"""`python -m distillset` runs the command line."""

from distillset.cli import main

if __name__ == "__main__":
    main()
