"""The `rankbot` command line: parsing and printing, and every failure as one line and an exit
code (`bot.cli.main`)."""
