"""Runnable examples (the README's "Your own network" section); not part of the installed packages."""
